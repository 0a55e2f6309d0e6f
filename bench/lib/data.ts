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

/**
 * The seeded data set, kept across runs: created and migrated when missing,
 * topped up to `products` demo products (src/db/seed.ts) when smaller.
 */
export async function ensureDataSet(adminUrl: string, name: string, products: number, log: (line: string) => void): Promise<void> {
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
      return;
    }
    log(`data set: seeding ${products - count} more products into ${name}`);
    await seed(db, { products, accounts: 0, onProgress: progressBar('seeding') });
    await db.raw('analyze products');
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

/**
 * What `product(id)` answers for `id`, byte for byte as Apollo writes it (JSON in
 * the query's field order, then a newline): the http-ceiling's fixed body. The bench
 * checks it against the real servers' answer before it measures.
 */
export async function productResponse(url: string, id: string): Promise<string> {
  const db = connect(url, 1);
  try {
    // Column order is the order of PRODUCT_QUERY's fields; a Date serializes as toISOString(), as the DateTime scalar does.
    const result = await db.raw(
      `select id, sku, name, price_cents as "priceCents", stock, version, updated_at as "updatedAt" from products where id = ?`,
      [id],
    );
    const row = (result.rows as Record<string, unknown>[])[0];
    if (row === undefined) throw new Error(`no product ${id} in ${url}`);
    return `${JSON.stringify({ data: { product: row } })}\n`;
  } finally {
    await db.destroy();
  }
}
