import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { dataOf, startTestApp, type TestApp } from '../helpers/app.js';
import { categorize, createAccount, createCategory, createProduct, placeOrder } from '../helpers/shop.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';

/**
 * Lists keep the promise entities keep: a list read that begins after a
 * change was acknowledged reflects it, under concurrent writes, and whoever
 * made the change (the API, or another program through the triggers, within 1 s).
 * The database is this file's own: its servers repair every trigger-recorded
 * row, and another file's servers would take them.
 */

const PROMISED_MS = 1000;
let scratch: ScratchDatabase;
let external: pg.Client;
let app: TestApp;

beforeAll(async () => {
  scratch = await createScratchDatabase('lists');
  external = new pg.Client({ connectionString: scratch.url, application_name: 'fg-lists-external' });
  await external.connect();
  // A small window: readers page past it, into Postgres.
  app = await startTestApp({ DATABASE_URL: scratch.urlFor(`fg-lists-${randomBytes(4).toString('hex')}`), CACHE_LIST_WINDOW: '8' });
});
afterAll(async () => {
  await app?.close();
  await external?.end();
  await scratch?.drop();
});

interface OrdersPage {
  account: { orders: { totalCount: number; nodes: { id: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
}

/** Every order of the account, newest first, following the pages (a read of several requests), and the first page's total. */
async function readAllOrders(accountId: string): Promise<{ ids: string[]; total: number }> {
  const ids: string[] = [];
  let after: string | null = null;
  let total = -1;
  for (;;) {
    const page: OrdersPage = dataOf(
      await app.gql<OrdersPage>('query($a: ID!, $after: String) { account(id: $a) { orders(first: 5, after: $after) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } } }', {
        a: accountId,
        after,
      }),
    );
    if (total === -1) total = page.account.orders.totalCount;
    ids.push(...page.account.orders.nodes.map((n) => n.id));
    if (!page.account.orders.pageInfo.hasNextPage) return { ids, total };
    after = page.account.orders.pageInfo.endCursor;
  }
}

/** Polls until `probe` holds or `deadlineMs` passed since `since`; whether it held in time. */
async function by(since: number, deadlineMs: number, probe: () => Promise<boolean>): Promise<boolean> {
  for (;;) {
    if (performance.now() - since > deadlineMs) return false;
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ordersOf = async (accountId: string): Promise<string[]> => (await readAllOrders(accountId)).ids;
const categoryProducts = async (categoryId: string): Promise<string[]> =>
  dataOf(await app.gql<{ category: { products: { nodes: { id: string }[] } } }>('query($c: ID!) { category(id: $c) { products(first: 100) { nodes { id } } } }', { c: categoryId }))
    .category.products.nodes.map((n) => n.id);
const productCategories = async (productId: string): Promise<string[]> =>
  dataOf(await app.gql<{ product: { categories: { id: string }[] } }>('query($p: ID!) { product(id: $p) { categories { id } } }', { p: productId })).product.categories.map((c) => c.id);
const same = (a: readonly string[], b: readonly string[]) => JSON.stringify(a) === JSON.stringify(b);

describe('lists under concurrent writes', () => {
  it('200 placeOrders over 10 accounts, 20 at a time: no read that began after an order was acknowledged misses it, nor counts fewer', async () => {
    const accounts: string[] = [];
    for (let i = 0; i < 10; i++) accounts.push(await createAccount(app));
    const products: string[] = [];
    for (let i = 0; i < 10; i++) products.push(await createProduct(app, { stock: 100_000 }));
    const acknowledged = new Map<string, string[]>(accounts.map((a) => [a, []]));
    let writing = true;
    let reads = 0;
    const violations: unknown[] = [];
    // 20 writers of 10 orders each: concurrent enough to race the readers, not so many that every
    // reader past the cached window waits behind 200 queued transactions for a database connection.
    const writers = Array.from({ length: 20 }, async (_, w) => {
      for (let k = 0; k < 10; k++) {
        const i = w * 10 + k;
        const accountId = accounts[i % accounts.length] as string;
        const id = await placeOrder(app, accountId, products[i % products.length] as string);
        (acknowledged.get(accountId) as string[]).push(id);
      }
    });
    const readers = Array.from({ length: 6 }, async (_, r) => {
      for (let n = 0; writing; n++) {
        const accountId = accounts[(r + n) % accounts.length] as string;
        const before = [...(acknowledged.get(accountId) as string[])];
        const seen = await readAllOrders(accountId);
        reads++;
        const missing = before.filter((id) => !seen.ids.includes(id));
        if (missing.length > 0 || seen.total < before.length) violations.push({ accountId, missing, total: seen.total, acknowledgedBefore: before.length });
        if (new Set(seen.ids).size !== seen.ids.length) violations.push({ accountId, duplicated: seen.ids });
      }
    });
    await Promise.all(writers);
    writing = false;
    await Promise.all(readers);
    expect(violations).toEqual([]);
    expect(reads).toBeGreaterThan(20);
    // Settled: every list is exactly what was acknowledged, newest first as Postgres orders it.
    for (const accountId of accounts) {
      const { rows } = await external.query<{ id: string }>('select id::text from orders where account_id = $1 order by created_at desc, id desc', [accountId]);
      expect(await ordersOf(accountId)).toEqual(rows.map((r) => r.id));
      expect(rows).toHaveLength(20);
    }
  }, 120_000);
});

describe('lists and writes by another program (the triggers), within 1 s', () => {
  it('an INSERT, a DELETE and a move to another account of orders in psql reach both accounts\' lists', async () => {
    const product = await createProduct(app);
    const [alice, bob] = [await createAccount(app), await createAccount(app)];
    const first = await placeOrder(app, alice, product);
    expect(await ordersOf(alice)).toEqual([first]);
    expect(await ordersOf(bob)).toEqual([]);

    const inserted = newId();
    await external.query(
      `insert into orders (id, account_id, lines, total_cents, created_at) values ($1, $2, $3, 100, now() + interval '1 minute')`,
      [inserted, alice, JSON.stringify([{ productId: product, quantity: 1, unitPriceCents: 100 }])],
    );
    let committed = performance.now();
    expect(await by(committed, PROMISED_MS, async () => same(await ordersOf(alice), [inserted, first]))).toBe(true);

    await external.query('update orders set account_id = $2 where id = $1', [first, bob]);
    committed = performance.now();
    expect(await by(committed, PROMISED_MS, async () => same(await ordersOf(alice), [inserted]) && same(await ordersOf(bob), [first]))).toBe(true);

    await external.query('delete from orders where id = $1', [inserted]);
    committed = performance.now();
    expect(await by(committed, PROMISED_MS, async () => same(await ordersOf(alice), []))).toBe(true);
  });

  it('join rows added, removed and moved in psql reach both sides; a rename in psql reorders the lists it is in', async () => {
    const [a, b] = [await createProduct(app, { name: 'Alpha' }), await createProduct(app, { name: 'Beta' })];
    const [tools, garden] = [await createCategory(app, 'Tools'), await createCategory(app, 'Garden')];
    await categorize(app, a, [tools]);
    expect(await categoryProducts(tools)).toEqual([a]);
    expect(await productCategories(b)).toEqual([]);

    await external.query('insert into product_categories (product_id, category_id) values ($1, $2)', [b, tools]);
    let committed = performance.now();
    expect(await by(committed, PROMISED_MS, async () => same(await categoryProducts(tools), [a, b]) && same(await productCategories(b), [tools]))).toBe(true);

    await external.query("update products set name = 'Zulu' where id = $1", [a]);
    committed = performance.now();
    expect(await by(committed, PROMISED_MS, async () => same(await categoryProducts(tools), [b, a]))).toBe(true);

    await external.query('update product_categories set category_id = $3 where product_id = $1 and category_id = $2', [b, tools, garden]);
    committed = performance.now();
    expect(
      await by(committed, PROMISED_MS, async () => same(await categoryProducts(tools), [a]) && same(await categoryProducts(garden), [b]) && same(await productCategories(b), [garden])),
    ).toBe(true);

    await external.query('delete from product_categories where product_id = $1', [a]);
    committed = performance.now();
    expect(await by(committed, PROMISED_MS, async () => same(await categoryProducts(tools), []) && same(await productCategories(a), []))).toBe(true);
  });
});
