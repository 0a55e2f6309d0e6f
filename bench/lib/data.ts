import { isoTimestamp } from '../../src/entities/pg-text.js';
import knexPkg, { type Knex } from 'knex';
import { progressBar } from '../../src/cli/progress.js';
import { migrateToLatest } from '../../src/db/migrations/index.js';
import { seed } from '../../src/db/seed.js';

/** A database URL on the same server as `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const connect = (url: string, max = 2): Knex => knexPkg.knex({ client: 'pg', connection: url, pool: { min: 0, max } });

/** Orders of the bench account at rank 1; the account at rank r has `ORDERS_AT_RANK_1 / r` (at least 1). */
export const ORDERS_AT_RANK_1 = 5000;
/** What every bench account starts with: enough that no run's `placeOrder` is refused for want of money. */
export const ACCOUNT_BALANCE_CENTS = 2_000_000_000;
const ACCOUNT_OWNER = 'Bench account ';

/** How many orders the seeded account of `rank` (1-based) holds: Zipf over rank, so a few accounts have pages past any cache window. */
export const seededOrders = (rank: number): number => Math.max(1, Math.floor(ORDERS_AT_RANK_1 / rank));

/**
 * The seeded data set, kept across runs: created and migrated when missing,
 * topped up to `products` demo products (src/db/seed.ts) and to `accounts`
 * bench accounts with their orders (seedAccounts) when smaller.
 */
export async function ensureDataSet(adminUrl: string, name: string, products: number, accounts: number, log: (line: string) => void): Promise<void> {
  const admin = connect(adminUrl, 1);
  try {
    const exists = await admin.raw('select 1 from pg_database where datname = ?', [name]);
    if (exists.rows.length === 0) {
      log(`creating database ${name}`);
      await admin.raw(`create database ${name}`);
    }
  } catch (err) {
    throw new Error(`Cannot reach or create the bench database through ${adminUrl}. Is Postgres running? Pass --database-url.`, { cause: err });
  } finally {
    await admin.destroy();
  }
  const db = connect(databaseUrl(adminUrl, name));
  try {
    await migrateToLatest(db);
    const [{ count }] = (await db.raw(`select count(*)::int as count from products where sku like 'DEMO-%'`)).rows as [{ count: number }];
    if (count >= products) {
      log(`data set: ${name} already holds ${count} demo products (reused)`);
    } else {
      log(`data set: seeding ${products - count} more products into ${name}`);
      await seed(db, { products, accounts: 0, onProgress: progressBar('seeding') });
      await db.raw('analyze products');
    }
    await seedAccounts(db, accounts, log);
    await seedCategories(db);
  } finally {
    await db.destroy();
  }
}

/**
 * Tops the bench accounts up to `accounts`: owners `Bench account 000001`...
 * (their rank under Zipf), each with ACCOUNT_BALANCE_CENTS and seededOrders(rank)
 * orders of 1 to 3 demo products at their prices, created a day and more before
 * the seeding, 97 minutes apart. Written straight to the tables (no API, no
 * outbox): the template is never served, only copied.
 */
async function seedAccounts(db: Knex, accounts: number, log: (line: string) => void): Promise<void> {
  const [{ have }] = (await db.raw(`select count(*)::int as have from accounts where owner like ?`, [`${ACCOUNT_OWNER}%`])).rows as [{ have: number }];
  if (have >= accounts) {
    if (accounts > 0) log(`data set: ${have} bench accounts with their orders (reused)`);
    return;
  }
  const [{ products }] = (await db.raw(`select count(*)::int as products from products where sku like 'DEMO-%'`)).rows as [{ products: number }];
  let orders = 0;
  for (let from = have + 1; from <= accounts; from++) orders += seededOrders(from);
  log(`data set: seeding ${accounts - have} bench accounts with ${orders.toLocaleString('en-US')} orders`);
  const progress = progressBar('seeding accounts');
  const BATCH = 500;
  for (let from = have + 1; from <= accounts; from += BATCH) {
    const ranks = Array.from({ length: Math.min(BATCH, accounts - from + 1) }, (_, i) => from + i);
    await db.transaction(async (trx) => {
      await trx.raw(
        `with a(owner, rank, n) as (select * from unnest(?::text[], ?::int[], ?::int[])),
              inserted as (
                insert into accounts (id, owner, balance_cents)
                select gen_random_uuid(), owner, ? from a
                returning id, owner)
         insert into orders (id, account_id, lines, total_cents, created_at)
         select gen_random_uuid(), i.id,
                jsonb_build_array(jsonb_build_object('productId', p.id, 'quantity', q.quantity, 'unitPriceCents', p.price_cents)),
                p.price_cents * q.quantity,
                now() - interval '1 day' - g.k * interval '97 minutes' - a.rank * interval '1 millisecond'
         from a join inserted i on i.owner = a.owner
         cross join lateral generate_series(0, a.n - 1) as g(k)
         cross join lateral (select 1 + (a.rank + g.k) % 3 as quantity,
                                    'DEMO-' || lpad(((a.rank::bigint * 7919 + g.k::bigint * 104729) % ? + 1)::text, 7, '0') as sku) q
         join products p on p.sku = q.sku`,
        [ranks.map((r) => `${ACCOUNT_OWNER}${String(r).padStart(6, '0')}`), ranks, ranks.map(seededOrders), ACCOUNT_BALANCE_CENTS, products],
      );
    });
    progress(Math.min(accounts, from + BATCH - 1) - have, accounts - have);
  }
  await db.raw('analyze accounts');
  await db.raw('analyze orders');
}

/** Categories the `categorize` workload files products under. */
export const BENCH_CATEGORIES = 100;
const CATEGORY_SLUG = 'bench-category-';

/** Tops the bench categories up to BENCH_CATEGORIES (`bench-category-001`...), straight to the table like the accounts. */
async function seedCategories(db: Knex): Promise<void> {
  await db.raw(
    `insert into categories (id, name, slug)
     select gen_random_uuid(), 'Bench category ' || lpad(n::text, 3, '0'), ? || lpad(n::text, 3, '0') from generate_series(1, ?) as n
     on conflict do nothing`,
    [CATEGORY_SLUG, BENCH_CATEGORIES],
  );
}

/** The ids of the bench categories, in slug order. */
export async function loadCategoryIds(url: string): Promise<string[]> {
  const db = connect(url);
  try {
    const result = await db.raw(`select id from categories where slug like ? order by slug`, [`${CATEGORY_SLUG}%`]);
    return (result.rows as { id: string }[]).map((r) => r.id);
  } finally {
    await db.destroy();
  }
}

/**
 * One copy of the data set per configuration, so that writes made through one
 * server never bypass another server's cache (which no cache can see), and every
 * configuration starts from the same rows. `create database ... template` copies files: fast.
 */
export async function cloneDataSet(adminUrl: string, template: string, clones: readonly string[]): Promise<void> {
  const admin = connect(adminUrl, 1);
  try {
    for (const clone of clones) {
      await admin.raw(`drop database if exists ${clone} with (force)`);
      await admin.raw(`create database ${clone} template ${template}`);
    }
  } finally {
    await admin.destroy();
  }
}

export async function dropDatabases(adminUrl: string, names: readonly string[]): Promise<void> {
  const admin = connect(adminUrl, 1);
  try {
    for (const name of names) await admin.raw(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.destroy();
  }
}

/** The ids of the first `n` demo products, in sku order: rank 1 is the most popular under Zipf. */
export async function loadIds(url: string, n: number): Promise<string[]> {
  const db = connect(url);
  try {
    const result = await db.raw(`select id from products where sku like 'DEMO-%' order by sku limit ?`, [n]);
    return (result.rows as { id: string }[]).map((r) => r.id);
  } finally {
    await db.destroy();
  }
}

/** The ids of the first `n` bench accounts, in rank order (rank 1 first: the most popular under Zipf, with the most orders). */
export async function loadAccountIds(url: string, n: number): Promise<string[]> {
  if (n === 0) return [];
  const db = connect(url);
  try {
    const result = await db.raw(`select id from accounts where owner like ? order by owner limit ?`, [`${ACCOUNT_OWNER}%`, n]);
    return (result.rows as { id: string }[]).map((r) => r.id);
  } finally {
    await db.destroy();
  }
}

/** How many orders each account holds now in the database at `url`, in the order of `accountIds`. */
export async function orderCounts(url: string, accountIds: readonly string[]): Promise<Int32Array> {
  const db = connect(url, 1);
  try {
    const result = await db.raw(
      `select a.id, (select count(*)::int from orders o where o.account_id = a.id) as n from unnest(?::uuid[]) as a(id)`,
      [[...accountIds]],
    );
    const byId = new Map((result.rows as { id: string; n: number }[]).map((r) => [r.id, r.n]));
    return Int32Array.from(accountIds, (id) => byId.get(id) ?? 0);
  } finally {
    await db.destroy();
  }
}

/**
 * What `product(id)` answers for `id`, byte for byte as Apollo writes it (JSON in
 * the query's field order, then a newline): the http-ceiling's fixed body. The bench
 * checks it against the real servers' answer before it measures.
 */
export async function productResponse(url: string, id: string): Promise<string> {
  const db = connect(url, 1);
  try {
    // Column order is the order of PRODUCT_QUERY's fields; the timestamp as freshgraph serves it (UTC, to the microsecond).
    const result = await db.raw(
      `select id, sku, name, price_cents as "priceCents", stock, version, (updated_at at time zone 'UTC')::text || '+00' as "updatedAt" from products where id = ?`,
      [id],
    );
    const row = (result.rows as Record<string, unknown>[])[0];
    if (row === undefined) throw new Error(`no product ${id} in ${url}`);
    return `${JSON.stringify({ data: { product: { ...row, updatedAt: isoTimestamp(String(row['updatedAt'])) } } })}\n`;
  } finally {
    await db.destroy();
  }
}
