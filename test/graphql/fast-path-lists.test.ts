import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { createServer, type FreshgraphServer } from '../../src/server.js';
import { QUIET_BACKGROUND, startTestApp, type TestApp } from '../helpers/app.js';
import { startFastAndSlow } from '../helpers/fast-and-slow.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { categorize, createAccount, createCategory, createProduct, placeOrder } from '../helpers/shop.js';

// Lists on the read fast path (src/fast-path/): connections and plain lists must be
// answered exactly as graphql-js execution answers them, byte for byte, reading
// through the same list readers. Two servers over the same loaders and cache, one
// with the fast path and one without, run the same operations; an
// executionDidStart hook shows which path answered.
let app: TestApp;
// A database of its own: the catalog lists every product, and other files add products all the time.
let scratch: ScratchDatabase;
let fast: FreshgraphServer;
let slow: FreshgraphServer;
let executions: () => number;
let product: string;
let busy: string;
let other: string;
let empty: string;
let category: string;
const placed: string[] = [];


beforeAll(async () => {
  scratch = await createScratchDatabase('fastlists');
  // A small window, so that pages past it (read from Postgres) are easy to reach.
  app = await startTestApp({ ...QUIET_BACKGROUND, DATABASE_URL: scratch.url, CACHE_LIST_WINDOW: '5' });
  const { deps } = app.running;
  ({ fast, slow, executions } = await startFastAndSlow((fastPath) => createServer({ logger: deps.logger, createContext: deps.createContext, fastPath })));
  product = await createProduct(app, { name: 'Anvil' });
  busy = await createAccount(app);
  other = await createAccount(app);
  empty = await createAccount(app);
  for (let i = 0; i < 8; i++) placed.unshift(await placeOrder(app, busy, product, i + 1));
  await placeOrder(app, other, product);
  category = await createCategory(app, 'Tools');
  const second = await createCategory(app, 'Garden');
  for (let i = 0; i < 7; i++) {
    const p = await createProduct(app, { name: `Tool ${i}` });
    await categorize(app, p, i % 2 === 0 ? [category, second] : [category]);
  }
  await categorize(app, product, [second, category]);
});
afterAll(async () => {
  await Promise.all([fast?.stop(), slow?.stop()]);
  await app?.close();
  await scratch?.drop();
});

async function both(query: string, variables?: Record<string, unknown>) {
  const run = async (server: FreshgraphServer) => {
    const contextValue = app.running.deps.createContext();
    const res = await server.apollo.executeOperation({ query, variables }, { contextValue });
    if (res.body.kind !== 'single') throw new Error('expected a single result');
    return { text: JSON.stringify(res.body.singleResult), roundTrips: contextValue.loaders.stats.redisRoundTrips, sql: contextValue.loaders.stats.sourceLoads };
  };
  const before = executions();
  const answer = await run(fast);
  const executed = executions() > before;
  const expected = await run(slow);
  return { answer: answer.text, expected: expected.text, executed, fastCost: answer, slowCost: expected };
}

/** The cursor after the `n`-th order (1-based) of `account`'s orders, as the slow path hands it out. */
async function cursorAfter(account: string, n: number): Promise<string> {
  const { expected } = await both('query($a: ID!, $n: Int) { account(id: $a) { orders(first: $n) { pageInfo { endCursor } } } }', { a: account, n });
  return (JSON.parse(expected) as { data: { account: { orders: { pageInfo: { endCursor: string } } } } }).data.account.orders.pageInfo.endCursor;
}

async function categoryCursor(): Promise<string> {
  const { expected } = await both('query($c: ID!) { category(id: $c) { products(first: 1) { pageInfo { endCursor } } } }', { c: category });
  return (JSON.parse(expected) as { data: { category: { products: { pageInfo: { endCursor: string } } } } }).data.category.products.pageInfo.endCursor;
}

const PAGE = 'totalCount edges { cursor node { id totalCents createdAt } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { id }';
const ORDERS = `query AccountOrders($id: ID!, $first: Int, $after: String) { account(id: $id) { id orders(first: $first, after: $after) { ${PAGE} } } }`;
// The bench's `list` workload.
const BENCH_LIST = 'query AccountOrders($id: ID!) { account(id: $id) { orders(first: 10) { nodes { id totalCents } } } }';

describe('lists on the read fast path', () => {
  it.each([
    ["the bench's list query", async () => [BENCH_LIST, { id: busy }]],
    ['a whole page at the head, inside the window', async () => [ORDERS, { id: busy, first: 3 }]],
    ['a page after a cursor inside the window', async () => [ORDERS, { id: busy, first: 2, after: await cursorAfter(busy, 2) }]],
    ['a page past the window (Postgres by keyset)', async () => [ORDERS, { id: busy, first: 3, after: await cursorAfter(busy, 5) }]],
    ['a page at the head running past the window', async () => [ORDERS, { id: busy, first: 7 }]],
    ['the last page, with nothing after it', async () => [ORDERS, { id: busy, first: 5, after: await cursorAfter(busy, 6) }]],
    ['an empty list', async () => [ORDERS, { id: empty, first: 10 }]],
    ['first: 0', async () => [ORDERS, { id: busy, first: 0 }]],
    ['first: null (the default page)', async () => [ORDERS, { id: busy, first: null }]],
    ['first not sent (the default page), after: null', async () => [ORDERS, { id: busy, after: null }]],
    ['an account that does not exist', async () => [ORDERS, { id: newId(), first: 2 }]],
    ['literal first and after', async () => [`query($id: ID!) { account(id: $id) { orders(first: 2, after: "${await cursorAfter(busy, 1)}") { ${PAGE} } } }`, { id: busy }]],
    ['first and after given no argument at all', async () => [`{ account(id: "${busy}") { orders { totalCount nodes { id } } } }`, undefined]],
    [
      'aliases and __typename at every level',
      async () => [
        `query($id: ID!) { a: account(id: $id) { __typename o: orders(first: 2) { __typename t: totalCount e: edges { __typename c: cursor n: node { __typename i: id } } p: pageInfo { __typename n: hasNextPage } } } }`,
        { id: busy },
      ],
    ],
    ['only totalCount (no member is read)', async () => [`query($id: ID!) { account(id: $id) { orders(first: 3) { totalCount } } }`, { id: busy }]],
    ['a to-one relation of the members', async () => [`query($id: ID!) { account(id: $id) { orders(first: 3) { nodes { id account { id owner balanceCents } } } } }`, { id: busy }]],
    [
      'accounts(ids) with their orders, a missing id and a repeat',
      async () => [`query($ids: [ID!]!) { accounts(ids: $ids) { id orders(first: 2) { totalCount nodes { id } } } }`, { ids: [busy, newId(), other, busy, empty] }],
    ],
    [
      "a category's products with each product's categories (a plain list in a connection)",
      async () => [`query($c: ID!) { category(id: $c) { name products(first: 4) { totalCount nodes { id name categories { id name } } pageInfo { hasNextPage endCursor } } } }`, { c: category }],
    ],
    ["a category's products past the window", async () => [`query($c: ID!, $after: String) { category(id: $c) { products(first: 5, after: $after) { edges { cursor node { name } } } } }`, { c: category, after: await categoryCursor() }]],
    ["a product's categories (a plain list)", async () => [`query($id: ID!) { product(id: $id) { name categories { id name slug version } } }`, { id: product }]],
    ['the root catalog', async () => [`query($first: Int) { productCatalog(first: $first) { totalCount edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }`, { first: 3 }]],
    ['the root catalog, every product', async () => ['{ productCatalog(first: 100) { totalCount nodes { id name priceCents } } }', undefined]],
    [
      '_entities with an account and its orders',
      async () => [
        `query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { owner orders(first: 2) { nodes { id } } } ... on Product { name categories { name } } } }`,
        { r: [{ __typename: 'Account', id: busy }, { __typename: 'Product', id: product }, { __typename: 'Account', id: 'nope' }] },
      ],
    ],
  ] as const)('answers %s without execution, exactly as execution would', async (_, make) => {
    const [query, variables] = (await make()) as [string, Record<string, unknown> | undefined];
    const { answer, expected, executed } = await both(query, variables);
    expect(answer).toBe(expected);
    expect(executed).toBe(false);
    expect(answer).not.toContain('"errors"');
  });

  // Refused before anything runs (the connection-argument check): the shortcut test sends them past a learned operation.
  it.each([
    ['first: -1', async () => [ORDERS, { id: busy, first: -1 }]],
    ['first: 101', async () => [ORDERS, { id: busy, first: 101 }]],
    ['an after that is no cursor', async () => [ORDERS, { id: busy, first: 2, after: 'garbage' }]],
    ['an after of another list', async () => [ORDERS, { id: busy, first: 2, after: await categoryCursor() }]],
  ] as const)('refuses %s with the same answer', async (_, make) => {
    const [query, variables] = (await make()) as [string, Record<string, unknown> | undefined];
    const { answer, expected } = await both(query, variables);
    expect(answer).toBe(expected);
    expect(answer).toContain('BAD_USER_INPUT');
  });

  it.each([
    ['first as a string (coercion)', async () => [ORDERS, { id: busy, first: '3' }]],
    ['first: 2.5 (coercion)', async () => [ORDERS, { id: busy, first: 2.5 }]],
    ["an after of another owner's list", async () => [ORDERS, { id: other, first: 2, after: await cursorAfter(busy, 1) }]],
    ['a malformed account id', async () => [ORDERS, { id: 'nope', first: 2 }]],
    ["the orders' lines (a relation inside a JSON column)", async () => [`query($id: ID!) { account(id: $id) { orders(first: 2) { nodes { lines { quantity product { name } } } } } }`, { id: busy }]],
    ['a connection selected twice under one key', async () => [`query($id: ID!) { account(id: $id) { orders(first: 2) { nodes { id } nodes { totalCents } } } }`, { id: busy }]],
    ['a variable with a default', async () => [`query($id: ID!, $first: Int = 2) { account(id: $id) { orders(first: $first) { nodes { id } } } }`, { id: busy }]],
  ] as const)('leaves %s to execution, with the same answer', async (_, make) => {
    const [query, variables] = (await make()) as [string, Record<string, unknown> | undefined];
    const { answer, expected, executed } = await both(query, variables);
    expect(answer).toBe(expected);
    expect(executed).toBe(true);
  });

  it('reads warm lists in as many Redis round trips as execution, and no SQL', async () => {
    const query = `query($ids: [ID!]!) { accounts(ids: $ids) { id orders(first: 3) { totalCount nodes { id account { owner } } } } }`;
    const variables = { ids: [busy, other, empty] };
    await both(query, variables);
    const { answer, expected, executed, fastCost, slowCost } = await both(query, variables);
    expect(answer).toBe(expected);
    expect(executed).toBe(false);
    expect(fastCost.roundTrips).toBe(slowCost.roundTrips);
    // The accounts, their windows, their orders: one round trip each level; the orders' accounts were read already.
    expect(fastCost.roundTrips).toBe(3);
    expect(fastCost.sql).toBe(0);
  });

  it('has a placed order at the head of the page at once', async () => {
    const read = async () => both(BENCH_LIST, { id: busy });
    const before = await read();
    expect(before.executed).toBe(false);
    const order = await placeOrder(app, busy, product);
    const after = await read();
    expect(after.executed).toBe(false);
    expect(after.answer).toBe(after.expected);
    const nodes = (JSON.parse(after.answer) as { data: { account: { orders: { nodes: { id: string }[] } } } }).data.account.orders.nodes;
    expect(nodes[0]?.id).toBe(order);
    expect(nodes.slice(1).map((n) => n.id)).toEqual([...placed.slice(0, 9)]);
    placed.unshift(order);
  });
});

describe('lists on the read fast path without Redis', () => {
  // The same database, and no Redis at all: every read degrades to Postgres, on both paths alike.
  let cut: TestApp;
  let fastCut: FreshgraphServer;
  let slowCut: FreshgraphServer;
  let cutExecutions: () => number;
  beforeAll(async () => {
    cut = await startTestApp({ ...QUIET_BACKGROUND, DATABASE_URL: scratch.url, CACHE_LIST_WINDOW: '5', REDIS_URL: 'redis://127.0.0.1:1/0' });
    const { deps } = cut.running;
    ({ fast: fastCut, slow: slowCut, executions: cutExecutions } = await startFastAndSlow((fastPath) =>
      createServer({ logger: deps.logger, createContext: deps.createContext, fastPath }),
    ));
  });
  afterAll(async () => {
    await Promise.all([fastCut?.stop(), slowCut?.stop()]);
    await cut?.close();
  });

  it('reads pages from Postgres and answers exactly as execution does', async () => {
    const answerOf = async (server: FreshgraphServer, query: string, variables: Record<string, unknown>) => {
      const contextValue = cut.running.deps.createContext();
      const res = await server.apollo.executeOperation({ query, variables }, { contextValue });
      if (res.body.kind !== 'single') throw new Error('expected a single result');
      return { text: JSON.stringify(res.body.singleResult), sql: contextValue.loaders.stats.sourceLoads };
    };
    for (const [query, variables] of [
      [BENCH_LIST, { id: busy }],
      [ORDERS, { id: busy, first: 3, after: await cursorAfter(busy, 5) }],
      [`query($c: ID!) { category(id: $c) { products(first: 4) { totalCount nodes { id categories { id } } } } }`, { c: category }],
    ] as const) {
      const before = cutExecutions();
      const answer = await answerOf(fastCut, query, variables);
      expect(cutExecutions(), query).toBe(before);
      const expected = await answerOf(slowCut, query, variables);
      expect(answer.text).toBe(expected.text);
      expect(answer.text).not.toContain('"errors"');
      expect(answer.sql).toBeGreaterThan(0);
      // Served from Postgres, yet the same as the cached answer.
      expect(answer.text).toBe((await both(query, variables)).expected);
    }
  });
});
