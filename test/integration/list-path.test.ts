import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import type { ListWindow } from '../../src/cache/list-window.js';
import { ReadThrough } from '../../src/cache/read-through.js';
import { listKey } from '../../src/cached-values.js';
import { loadListWindows } from '../../src/db/list-sql.js';
import { account } from '../../src/entities/account.js';
import { listNamed } from '../../src/entities/index.js';
import type { ListDefinition } from '../../src/entities/lists.js';
import { dataOf, QUIET_BACKGROUND, startTestApp, type TestApp } from '../helpers/app.js';
import { costCounters } from '../helpers/counting.js';
import { createAccount, createProduct, placeOrder } from '../helpers/shop.js';

/** What list reads cost (round trips, statements), and the race that leases stop. */

let app: TestApp;
let accounts: string[];
const accountOrders = listNamed('Account.orders') as ListDefinition;

beforeAll(async () => {
  app = await startTestApp(QUIET_BACKGROUND);
  const product = await createProduct(app, { stock: 1_000_000 });
  accounts = [];
  for (let i = 0; i < 50; i++) accounts.push(await createAccount(app));
  // 1 to 12 orders each: some lists hold more than one page of 10.
  for (const [i, id] of accounts.entries()) for (let n = 0; n <= i % 12; n++) await placeOrder(app, id, product);
}, 120_000);
afterAll(async () => {
  await app?.close();
});
const costs = costCounters(() => app);

const LISTS_QUERY = 'query($ids: [ID!]!) { accounts(ids: $ids) { orders(first: 10) { totalCount nodes { id totalCents } } } }';
const listKeyOf = (id: string) => listKey(app.running.deps.cache.keys, accountOrders, id);

describe('list reads', () => {
  it('accounts(50 ids) { orders(first: 10) { totalCount nodes } } warm: at most 3 Redis round trips and no SQL', async () => {
    dataOf(await app.gql(LISTS_QUERY, { ids: accounts }));
    await app.running.deps.cache.idle();
    costs.redisTrips.reset();
    costs.sql.reset();
    const res = dataOf(await app.gql<{ accounts: { orders: { totalCount: number; nodes: unknown[] } }[] }>(LISTS_QUERY, { ids: accounts }));
    expect(res.accounts.map((a) => a.orders.totalCount)).toEqual(accounts.map((_, i) => (i % 12) + 1));
    expect(res.accounts.map((a) => a.orders.nodes.length)).toEqual(accounts.map((_, i) => Math.min(10, (i % 12) + 1)));
    // The accounts, the 50 lists, the orders on their pages: one MGET each.
    expect(costs.redisTrips.count).toBeLessThanOrEqual(3);
    expect(costs.sql.count).toBe(0);
  });

  it('cold (accounts cached, lists and orders not): one SQL statement for all 50 lists and one for their orders', async () => {
    dataOf(await app.gql('query($ids: [ID!]!) { accounts(ids: $ids) { id } }', { ids: accounts }));
    const ids = dataOf(await app.gql<{ accounts: { orders: { nodes: { id: string }[] } }[] }>(LISTS_QUERY, { ids: accounts })).accounts.flatMap((a) =>
      a.orders.nodes.map((n) => n.id),
    );
    await app.running.deps.cache.idle();
    await app.redis.del(...accounts.map(listKeyOf), ...ids.map((id) => `${app.prefix}:{Order:${id}}`));
    costs.sql.reset();
    dataOf(await app.gql(LISTS_QUERY, { ids: accounts }));
    await app.running.deps.cache.idle();
    expect(costs.sql.statements).toHaveLength(2);
    expect(costs.sql.statements[0]).toMatch(/from unnest\(\$\d+::text\[\]\) as o\(owner\)/);
    expect(costs.sql.statements[1]).toMatch(/^select .* from "orders" where "id" = any/);
    // Both were filled: the next read costs no SQL.
    costs.sql.reset();
    dataOf(await app.gql(LISTS_QUERY, { ids: accounts }));
    expect(costs.sql.count).toBe(0);
  });

  it('a fill that loaded a list before a write cannot land after it, even when the write was evicted (lease cancelled)', async () => {
    const { deps } = app.running;
    const owner = accounts[3] as string;
    const key = listKeyOf(owner);
    await app.redis.del(key);
    let loaded!: () => void;
    let release!: () => void;
    const holding = new Promise<void>((r) => (loaded = r));
    const released = new Promise<void>((r) => (release = r));
    const slow = new ReadThrough<ListWindow>({
      cache: deps.cache,
      keyFor: listKeyOf,
      load: async (owners) => {
        const windows = await loadListWindows(deps.db.knex, accountOrders, owners, 200);
        loaded();
        await released;
        return windows;
      },
    });
    const reading = slow.loadMany([owner]);
    await holding; // the reader holds the list as it was
    const product = await createProduct(app);
    const placed = await placeOrder(app, owner, product); // a write of the list's next version, cancelling the reader's lease
    await app.redis.del(key); // evicted
    release();
    const [seen] = await reading;
    expect((seen as ListWindow).ids).not.toContain(placed); // it began before the write: the older list is an honest answer
    await deps.cache.idle();
    expect(await app.redis.get(key)).toBeNull(); // and it did not land
    const fresh = dataOf(await app.gql<{ account: { orders: { nodes: { id: string }[] } } }>('query($a: ID!) { account(id: $a) { orders(first: 1) { nodes { id } } } }', { a: owner }));
    expect(fresh.account.orders.nodes.map((n) => n.id)).toEqual([placed]);
    await deps.cache.idle();
    const cached = parseEnvelope<ListWindow>((await app.redis.get(key)) as string);
    expect(cached?.data?.ids[0]).toBe(placed);
  });

  it('a write never lets a lower version replace a higher one: a list CAS from a replayed, older write is rejected', async () => {
    const { deps } = app.running;
    const owner = accounts[5] as string;
    const key = listKeyOf(owner);
    dataOf(await app.gql('query($a: ID!) { account(id: $a) { orders { totalCount } } }', { a: owner }));
    await deps.cache.idle();
    const current = parseEnvelope<ListWindow>((await app.redis.get(key)) as string);
    expect(current?.v).toBeGreaterThanOrEqual(1);
    expect(await deps.cache.write([{ key, version: (current?.v ?? 1) - 1, data: { ids: [], total: 0 } }])).toBe(true);
    expect(parseEnvelope<ListWindow>((await app.redis.get(key)) as string)).toMatchObject({ v: current?.v, data: current?.data });
    expect(account.lists.has('orders')).toBe(true);
  });
});
