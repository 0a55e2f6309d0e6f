import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { isoTimestamp } from '../../src/entities/pg-text.js';
import type { RedisStore } from '../../src/cache/redis-store.js';
import { newId } from '../../src/ids.js';
import { codesOf, dataOf, QUIET_BACKGROUND, startTestApp, uniqueSku, type GqlResponse, type TestApp } from '../helpers/app.js';
import { countRedisCommands, countRedisRoundTrips, countSql } from '../helpers/counting.js';

const ORDER_FIELDS = `id accountId totalCents version createdAt
  account { id balanceCents version }
  lines { productId quantity unitPriceCents product { id stock version } }`;

interface Order {
  id: string;
  accountId: string;
  totalCents: number;
  version: number;
  createdAt: string;
  account: { id: string; balanceCents: number; version: number };
  lines: { productId: string; quantity: number; unitPriceCents: number; product: { id: string; stock: number; version: number } }[];
}

let app: TestApp;
let trips: ReturnType<typeof countRedisRoundTrips>;
let commands: ReturnType<typeof countRedisCommands>;
let sql: ReturnType<typeof countSql>;

beforeAll(async () => {
  // 20 orders with every line's product cost 20 x (1 + 100 x 2 + 1) = 4,040 (an order may hold 100 lines).
  app = await startTestApp({ ...QUIET_BACKGROUND, MAX_COST: '5000' });
  const client = (app.running.deps.store as RedisStore).client;
  trips = countRedisRoundTrips(client);
  commands = countRedisCommands(client);
  sql = countSql(app.running.deps.db.knex);
});
afterAll(async () => {
  trips?.stop();
  commands?.stop();
  sql?.stop();
  await app?.close();
});
beforeEach(async () => {
  await app.running.deps.cache.idle();
  trips.reset();
  commands.reset();
  sql.reset();
});

async function newProduct(priceCents: number, stock: number): Promise<string> {
  const res = await app.gql<{ createProduct: { id: string } }>(`mutation($i: NewProduct!) { createProduct(input: $i) { id } }`, {
    i: { sku: uniqueSku('ORD'), name: 'Widget', priceCents, stock },
  });
  return dataOf(res).createProduct.id;
}

async function newAccount(balanceCents: number): Promise<string> {
  const res = await app.gql<{ createAccount: { id: string } }>(`mutation($b: Int!) { createAccount(owner: "Buyer", balanceCents: $b) { id } }`, {
    b: balanceCents,
  });
  return dataOf(res).createAccount.id;
}

const place = (accountId: string, lines: unknown): Promise<GqlResponse<{ placeOrder: Order }>> =>
  app.gql(`mutation($a: ID!, $l: [OrderLineInput!]!) { placeOrder(accountId: $a, lines: $l) { ${ORDER_FIELDS} } }`, { a: accountId, l: lines });

/** Versions and the figures an order changes, straight from Postgres. */
async function state(accountId: string, productIds: readonly string[]) {
  const { knex } = app.running.deps.db;
  const account = (await knex('accounts').where({ id: accountId }).first()) as { balance_cents: number; version: number };
  const products = (await knex('products').whereIn('id', productIds).orderBy('id')) as { id: string; stock: number; version: number }[];
  const orders = Number(((await knex('orders').where({ account_id: accountId }).count({ n: '*' })) as { n: string }[])[0]?.n);
  return { account: { balance: account.balance_cents, version: account.version }, products: products.map((p) => [p.id, p.stock, p.version]), orders };
}

const cached = async (type: string, id: string) => {
  const raw = await app.redis.get(`${app.prefix}:{${type}:${id}}`);
  return raw === null ? undefined : parseEnvelope<Record<string, unknown>>(raw);
};

describe('placeOrder', () => {
  it('takes the stock, debits the account at current prices and records the order, all in one transaction', async () => {
    const [a, b] = [await newProduct(250, 10), await newProduct(1000, 3)];
    const accountId = await newAccount(10_000);
    const res = await place(accountId, [
      { productId: a, quantity: 4 },
      { productId: b.toUpperCase(), quantity: 3 },
    ]);
    const order = dataOf(res).placeOrder;
    expect(order).toMatchObject({ accountId, totalCents: 4 * 250 + 3 * 1000, version: 1 });
    // To the microsecond Postgres keeps, in UTC.
    const stored = (await app.running.deps.db.knex.raw('select created_at::text as t from orders where id = ?', [order.id])) as { rows: { t: string }[] };
    expect(order.createdAt).toBe(isoTimestamp(stored.rows[0]?.t as string));
    expect(order.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3,6}Z$/);
    expect(order.account).toEqual({ id: accountId, balanceCents: 10_000 - 4000, version: 2 });
    expect(order.lines).toEqual([
      { productId: a, quantity: 4, unitPriceCents: 250, product: { id: a, stock: 6, version: 2 } },
      { productId: b, quantity: 3, unitPriceCents: 1000, product: { id: b, stock: 0, version: 2 } },
    ]);
    // Read back through the cache: the same order, whole.
    const read = dataOf(await app.gql<{ order: Order }>(`query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`, { id: order.id }));
    expect(read.order).toEqual(order);
  });

  it("writes every changed envelope (the products, the account, the order, the account's orders) in one Redis round trip", async () => {
    const ids = [await newProduct(100, 5), await newProduct(200, 5), await newProduct(300, 5)];
    const accountId = await newAccount(5_000);
    await app.running.deps.cache.idle();
    trips.reset();
    commands.reset();
    const order = dataOf(await place(accountId, ids.map((productId) => ({ productId, quantity: 2 })))).placeOrder;
    await app.running.deps.cache.idle();
    // The response's nested account and products come from the loaders the mutation primed: no reads.
    expect(trips.count).toBe(1);
    expect(commands.names.filter((n) => n !== 'evalsha' && n !== 'eval')).toEqual([]);
    expect(commands.names).toHaveLength(ids.length + 3);
    expect(await cached('Order', order.id)).toMatchObject({ v: 1, data: { id: order.id, totalCents: 1200, lines: order.lines.map(({ product: _, ...line }) => line) } });
    expect(await cached('Account', accountId)).toMatchObject({ v: 2, data: { balanceCents: 3_800 } });
    for (const id of ids) expect(await cached('Product', id)).toMatchObject({ v: 2, data: { stock: 3 } });
    const orders = parseEnvelope<{ ids: string[]; total: number }>((await app.redis.get(`${app.prefix}:{Account:${accountId}}.orders`)) as string);
    expect(orders).toMatchObject({ v: 1, data: { ids: [order.id], total: 1 } });
  });

  it.each([
    ['INSUFFICIENT_FUNDS', 99, 5, 1, 'INSUFFICIENT_FUNDS'],
    ['INSUFFICIENT_STOCK', 100_000, 1, 2, 'INSUFFICIENT_STOCK'],
  ])('answers %s and changes nothing anywhere', async (_, balance, stock, quantity, code) => {
    const ids = [await newProduct(50, 10), await newProduct(100, stock)];
    const accountId = await newAccount(balance);
    await app.running.deps.cache.idle();
    const before = await state(accountId, ids);
    const cachedBefore = await Promise.all([cached('Account', accountId), ...ids.map((id) => cached('Product', id))]);
    trips.reset();
    const res = await place(accountId, [
      { productId: ids[0], quantity: 1 },
      { productId: ids[1], quantity },
    ]);
    expect(codesOf(res)).toEqual([code]);
    expect(res.data).toBeNull();
    expect(await state(accountId, ids)).toEqual(before);
    expect(trips.count).toBe(0);
    expect(await Promise.all([cached('Account', accountId), ...ids.map((id) => cached('Product', id))])).toEqual(cachedBefore);
  });

  it('answers NOT_FOUND for a missing account or product, naming it, and changes nothing', async () => {
    const id = await newProduct(10, 10);
    const accountId = await newAccount(1_000);
    const ghost = newId();
    const before = await state(accountId, [id]);
    const noAccount = await place(ghost, [{ productId: id, quantity: 1 }]);
    expect(codesOf(noAccount)).toEqual(['NOT_FOUND']);
    expect(noAccount.errors?.[0]?.extensions).toMatchObject({ type: 'Account', id: ghost });
    const noProduct = await place(accountId, [
      { productId: id, quantity: 1 },
      { productId: ghost, quantity: 1 },
    ]);
    expect(codesOf(noProduct)).toEqual(['NOT_FOUND']);
    expect(noProduct.errors?.[0]?.extensions).toMatchObject({ type: 'Product', id: ghost });
    expect(await state(accountId, [id])).toEqual(before);
  });

  it('answers BAD_USER_INPUT for no lines, more than 100, a quantity below 1, the same product twice and a malformed id, before any work', async () => {
    const id = await newProduct(10, 1_000);
    const accountId = await newAccount(1_000_000);
    const many = await Promise.all(Array.from({ length: 101 }, () => newProduct(1, 1)));
    await app.running.deps.cache.idle();
    const before = await state(accountId, [id]);
    sql.reset();
    trips.reset();
    const cases: [unknown, RegExp][] = [
      [[], /lines must not be empty/],
      [many.map((productId) => ({ productId, quantity: 1 })), /at most 100/],
      [[{ productId: id, quantity: 0 }], /lines\[0\]\.quantity must be more than 0/],
      [[{ productId: id, quantity: -3 }], /lines\[0\]\.quantity/],
      [[{ productId: id, quantity: 1 }, { productId: id.toUpperCase(), quantity: 2 }], /lines\[1\]\.productId names product .* a second time/],
      [[{ productId: 'not-an-id', quantity: 1 }], /lines\[0\]\.productId is not a valid id/],
    ];
    for (const [lines, message] of cases) {
      const res = await place(accountId, lines);
      expect(codesOf(res), JSON.stringify(lines).slice(0, 80)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors?.[0]?.message).toMatch(message);
    }
    const badAccount = await place('nope', [{ productId: id, quantity: 1 }]);
    expect(codesOf(badAccount)).toEqual(['BAD_USER_INPUT']);
    expect(sql.count).toBe(0);
    expect(trips.count).toBe(0);
    expect(await state(accountId, [id])).toEqual(before);
  });

  it('never oversells: concurrent orders for the last units succeed exactly as far as stock and money reach', async () => {
    const id = await newProduct(100, 7);
    const accountId = await newAccount(100_000);
    const results = await Promise.all(Array.from({ length: 12 }, () => place(accountId, [{ productId: id, quantity: 1 }])));
    const placed = results.filter((r) => codesOf(r).length === 0);
    const refused = results.filter((r) => codesOf(r).length > 0);
    expect(placed).toHaveLength(7);
    expect(refused.every((r) => codesOf(r)[0] === 'INSUFFICIENT_STOCK')).toBe(true);
    const after = await state(accountId, [id]);
    expect(after).toEqual({ account: { balance: 100_000 - 700, version: 8 }, products: [[id, 0, 8]], orders: 7 });
    await app.running.deps.cache.idle();
    expect(await cached('Product', id)).toMatchObject({ v: 8, data: { stock: 0 } });
    expect(await cached('Account', accountId)).toMatchObject({ v: 8, data: { balanceCents: 100_000 - 700 } });
  });
});

describe('reading orders', () => {
  it('serves 20 orders with their account and every line product, warm, in at most 3 Redis commands and no SQL', async () => {
    const products = await Promise.all(Array.from({ length: 5 }, (_, i) => newProduct(100 + i, 1_000)));
    const accounts = await Promise.all(Array.from({ length: 4 }, () => newAccount(1_000_000)));
    const orderIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const lines = products.slice(0, 1 + (i % 5)).map((productId, j) => ({ productId, quantity: 1 + j }));
      orderIds.push(dataOf(await place(accounts[i % 4] as string, lines)).placeOrder.id);
    }
    const query = `query($ids: [ID!]!) { orders(ids: $ids) { ${ORDER_FIELDS} } }`;
    const cold = dataOf(await app.gql<{ orders: Order[] }>(query, { ids: orderIds })).orders;
    await app.running.deps.cache.idle();
    commands.reset();
    trips.reset();
    sql.reset();
    const warm = dataOf(await app.gql<{ orders: Order[] }>(query, { ids: orderIds })).orders;
    expect(warm).toEqual(cold);
    expect(warm.map((o) => o.id)).toEqual(orderIds);
    expect(commands.names.length).toBeLessThanOrEqual(3);
    expect(commands.names.every((n) => n === 'mget')).toBe(true);
    expect(sql.count).toBe(0);
  });

  it('answers orders(ids) in the order asked, null where none, and refuses more than 500 ids', async () => {
    const id = await newProduct(5, 5);
    const order = dataOf(await place(await newAccount(100), [{ productId: id, quantity: 1 }])).placeOrder;
    const missing = newId();
    const res = dataOf(await app.gql<{ orders: ({ id: string } | null)[] }>(`query($ids: [ID!]!) { orders(ids: $ids) { id } }`, { ids: [missing, order.id, missing] }));
    expect(res.orders).toEqual([null, { id: order.id }, null]);
    const tooMany = await app.gql(`query($ids: [ID!]!) { orders(ids: $ids) { id } }`, { ids: Array.from({ length: 501 }, () => newId()) });
    expect(codesOf(tooMany)).toEqual(['BAD_USER_INPUT']);
  });

  it('resolves Order representations in _entities, malformed and unknown ids as null', async () => {
    const id = await newProduct(5, 5);
    const order = dataOf(await place(await newAccount(100), [{ productId: id, quantity: 2 }])).placeOrder;
    const res = dataOf(
      await app.gql<{ _entities: unknown[] }>(`query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id totalCents account { id } } } }`, {
        r: [{ __typename: 'Order', id: order.id }, { __typename: 'Order', id: 'bad' }, { __typename: 'Order', id: newId() }],
      }),
    );
    expect(res._entities).toEqual([{ id: order.id, totalCents: 10, account: { id: order.accountId } }, null, null]);
  });
});

describe('deleteProduct and orders', () => {
  it('refuses to delete a product that appears in an order (IN_USE), and deletes one that does not', async () => {
    const [ordered, unordered] = [await newProduct(5, 5), await newProduct(5, 5)];
    dataOf(await place(await newAccount(100), [{ productId: ordered, quantity: 1 }]));
    const refused = await app.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: ordered });
    expect(codesOf(refused)).toEqual(['IN_USE']);
    expect(dataOf(await app.gql<{ product: { version: number } }>(`query($id: ID!) { product(id: $id) { version } }`, { id: ordered })).product.version).toBe(2);
    expect(dataOf(await app.gql<{ deleteProduct: boolean }>(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: unordered })).deleteProduct).toBe(true);
  });
});
