import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { DEFAULT_QUERY_LIMITS } from '../../src/plugins/query-limits.js';
import { createServer, type FreshgraphServer } from '../../src/server.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { insertProducts } from '../helpers/products.js';
import { createAccount, createProduct, placeOrder } from '../helpers/shop.js';

// An operation the fast path has answered once is answered before Apollo's pipeline
// the next time (FastPath.shortcut). Over HTTP, that answer must be the one Apollo
// sends: same status, same headers, same bytes. Two servers over the same loaders
// and cache, one with the fast path and one without, get the same requests.
let app: TestApp;
let fast: FreshgraphServer;
let slow: FreshgraphServer;
let debug: FreshgraphServer;
const listening: Server[] = [];
let urls: { fast: string; slow: string; debug: string };
let ids: string[];
let account: string;
let noOrders: string;
let orderIds: string[];
// A low cost limit, so that a list of 60 ids is refused.
const LIMITS = { ...DEFAULT_QUERY_LIMITS, maxCost: 50 };

async function listen(server: FreshgraphServer): Promise<string> {
  const http = createHttpServer(server.handler);
  listening.push(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
}

beforeAll(async () => {
  app = await startTestApp();
  const { deps } = app.running;
  fast = createServer({ logger: deps.logger, createContext: deps.createContext, limits: LIMITS });
  slow = createServer({ logger: deps.logger, createContext: deps.createContext, fastPath: false, limits: LIMITS });
  debug = createServer({ logger: deps.logger, createContext: deps.createContext, debugExtensions: true });
  await Promise.all([fast.start(), slow.start(), debug.start()]);
  urls = { fast: await listen(fast), slow: await listen(slow), debug: await listen(debug) };
  ids = await insertProducts(deps.db.knex, 5);
  const product = await createProduct(app);
  account = await createAccount(app);
  noOrders = await createAccount(app);
  orderIds = [];
  for (let i = 0; i < 4; i++) orderIds.unshift(await placeOrder(app, account, product));
});
afterAll(async () => {
  for (const http of listening) http.close();
  await Promise.all([fast?.stop(), slow?.stop(), debug?.stop()]);
  await app?.close();
});

interface Seen {
  readonly status: number;
  readonly contentType: string | null;
  readonly cacheControl: string | null;
  readonly body: string;
}

async function send(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Seen> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    cacheControl: res.headers.get('cache-control'),
    body: await res.text(),
  };
}

/** `learn` to the fast server, then `body`: what each server answered to `body`, and whether the shortcut did. */
async function compare(learn: unknown, body: unknown, headers: Record<string, string> = {}) {
  await send(urls.fast, learn, headers);
  const before = fast.shortcutAnswers();
  const answer = await send(urls.fast, body, headers);
  return { answer, expected: await send(urls.slow, body, headers), shortcut: fast.shortcutAnswers() > before };
}

const PRODUCT = 'query($id: ID!) { product(id: $id) { id sku name priceCents stock version updatedAt } }';
const PRODUCTS = 'query($ids: [ID!]!) { products(ids: $ids) { id name version } }';
const ALL_FIELDS = 'query($ids: [ID!]!) { products(ids: $ids) { id sku name priceCents stock version updatedAt } }';
const ENTITIES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { __typename id stock } } }';
// The bench's `list` workload, and a page with every part of a connection.
const LIST = 'query AccountOrders($id: ID!) { account(id: $id) { orders(first: 10) { nodes { id totalCents } } } }';
const PAGE =
  'query($id: ID!, $first: Int, $after: String) { account(id: $id) { orders(first: $first, after: $after) { totalCount edges { cursor node { id createdAt } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }';

/** The cursor after the first `n` orders of the account, as Apollo hands it out. */
async function cursorAfter(n: number): Promise<string> {
  const seen = await send(urls.slow, { query: PAGE, variables: { id: account, first: n } });
  return (JSON.parse(seen.body) as { data: { account: { orders: { pageInfo: { endCursor: string } } } } }).data.account.orders.pageInfo.endCursor;
}

describe('answering a learned operation before Apollo', () => {
  it.each([
    ['product(id)', () => ({ query: PRODUCT, variables: { id: ids[0] } }), {}],
    ['a product that does not exist', () => ({ query: PRODUCT, variables: { id: newId() } }), {}],
    ['a named operation, chosen by name', () => ({ query: `query A { product(id: "${ids[1]}") { id } } query B { product(id: "${ids[2]}") { name } }`, operationName: 'B' }), {}],
    ['products(ids) no longer than before', () => ({ query: PRODUCTS, variables: { ids: [ids[0], ids[1], ids[0]] } }), {}],
    // Every field in stored order: the rows are their own answer, sent without a copy.
    ['whole rows', () => ({ query: ALL_FIELDS, variables: { ids: [ids[1], ids[0], newId(), ids[1]] } }), {}],
    ['_entities', () => ({ query: ENTITIES, variables: { r: [{ __typename: 'Product', id: ids[3] }, { __typename: 'Product', id: 'bad' }] } }), {}],
    ['accept: application/graphql-response+json', () => ({ query: PRODUCT, variables: { id: ids[4] } }), { accept: 'application/graphql-response+json' }],
    ['accept: */*', () => ({ query: PRODUCT, variables: { id: ids[4] } }), { accept: '*/*' }],
    ['client extensions without a persisted query', () => ({ query: PRODUCT, variables: { id: ids[4] }, extensions: { clientLibrary: { name: 'x' } } }), {}],
    ["the bench's list query", () => ({ query: LIST, variables: { id: account } }), {}],
    ['a page with every part of a connection', () => ({ query: PAGE, variables: { id: account, first: 2 } }), {}],
    ['an empty page of an account that has no orders', () => ({ query: PAGE, variables: { id: noOrders, first: 2 } }), {}],
    ['an account that does not exist', () => ({ query: PAGE, variables: { id: newId(), first: 2 } }), {}],
  ] as const)('answers %s exactly as Apollo does', async (_, make, headers) => {
    const { answer, expected, shortcut } = await compare(make(), make(), headers);
    expect(answer).toEqual(expected);
    expect(answer.status).toBe(200);
    expect(answer.body).not.toContain('"errors"');
    expect(shortcut).toBe(true);
  });

  it.each([
    ['a longer list than any accepted before', () => ({ query: PRODUCTS, variables: { ids: [ids[0]] } }), () => ({ query: PRODUCTS, variables: { ids: ids.slice(0, 4) } })],
    ['a list over the cost limit', () => ({ query: PRODUCTS, variables: { ids: [ids[0]] } }), () => ({ query: PRODUCTS, variables: { ids: Array.from({ length: 60 }, () => ids[0]) } })],
    ['a malformed id', () => ({ query: PRODUCT, variables: { id: ids[0] } }), () => ({ query: PRODUCT, variables: { id: 'nope' } })],
    ['a numeric id', () => ({ query: PRODUCT, variables: { id: ids[0] } }), () => ({ query: PRODUCT, variables: { id: 7 } })],
    ['variables that are not an object', () => ({ query: PRODUCT, variables: { id: ids[0] } }), () => ({ query: PRODUCT, variables: [ids[0]] })],
    ['another operation name', () => ({ query: PRODUCT, variables: { id: ids[0] } }), () => ({ query: PRODUCT, operationName: 'Other', variables: { id: ids[0] } })],
    ['a persisted-query extension', () => ({ query: PRODUCT, variables: { id: ids[0] } }), () => ({ query: PRODUCT, variables: { id: ids[0] }, extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } })],
    ['an entity type without a fragment', () => ({ query: ENTITIES, variables: { r: [{ __typename: 'Product', id: ids[0] }] } }), () => ({ query: ENTITIES, variables: { r: [{ __typename: 'Account', id: ids[0] }] } })],
    // Cheaper than the page learned, and refused by the connection-argument check the shortcut skips.
    ['a negative first', () => ({ query: PAGE, variables: { id: account, first: 3 } }), () => ({ query: PAGE, variables: { id: account, first: -1 } })],
    ['an after that is no cursor', () => ({ query: PAGE, variables: { id: account, first: 3 } }), () => ({ query: PAGE, variables: { id: account, first: 1, after: 'bm9wZQ' } })],
    ['first as a string', () => ({ query: PAGE, variables: { id: account, first: 3 } }), () => ({ query: PAGE, variables: { id: account, first: '1' } })],
    ['a page over the cost limit', () => ({ query: PAGE, variables: { id: account, first: 3 } }), () => ({ query: PAGE, variables: { id: account, first: 60 } })],
    ['a page dearer than any accepted before', () => ({ query: PAGE, variables: { id: account, first: 3 } }), () => ({ query: PAGE, variables: { id: account, first: 4 } })],
  ] as const)('leaves %s to Apollo, with the same answer', async (_, learn, make) => {
    const { answer, expected, shortcut } = await compare(learn(), make());
    expect(answer).toEqual(expected);
    expect(shortcut).toBe(false);
  });

  it('leaves an accept header that needs negotiation to Apollo', async () => {
    const body = { query: PRODUCT, variables: { id: ids[0] } };
    for (const accept of ['text/html', 'application/graphql-response+json, application/json;q=0.9']) {
      const { answer, expected, shortcut } = await compare(body, body, { accept });
      expect(answer).toEqual(expected);
      expect(shortcut).toBe(false);
    }
  });

  it('leaves a router asking for a federated trace to Apollo', async () => {
    const body = { query: PRODUCT, variables: { id: ids[0] } };
    const { answer, shortcut } = await compare(body, body, { 'apollo-federation-include-trace': 'ftv1' });
    expect(shortcut).toBe(false);
    expect((JSON.parse(answer.body) as { extensions?: { ftv1?: unknown } }).extensions?.ftv1).toEqual(expect.any(String));
  });

  it('leaves any request that names a trace or the debug view to Apollo, whatever the value (fence.ts)', async () => {
    const body = { query: PRODUCT, variables: { id: ids[0] } };
    const headerSets: Record<string, string>[] = [{ 'apollo-federation-include-trace': 'nope' }, { 'x-freshgraph-debug': '0' }];
    for (const headers of headerSets) {
      const { answer, expected, shortcut } = await compare(body, body, headers);
      expect(shortcut, JSON.stringify(headers)).toBe(false);
      expect(answer).toEqual(expected);
      expect(answer.body).not.toContain('ftv1');
    }
  });

  it('leaves a request for the debug view to Apollo, which adds it', async () => {
    const body = { query: PRODUCT, variables: { id: ids[0] } };
    await send(urls.debug, body);
    const before = debug.shortcutAnswers();
    const plain = await send(urls.debug, body);
    expect(debug.shortcutAnswers()).toBe(before + 1);
    const res = await send(urls.debug, body, { 'x-freshgraph-debug': '1' });
    expect(debug.shortcutAnswers()).toBe(before + 1);
    expect(JSON.parse(plain.body)).not.toHaveProperty('extensions');
    expect((JSON.parse(res.body) as { extensions?: { cache?: { hits?: number } } }).extensions?.cache?.hits).toBe(1);
  });

  it('answers a learned operation only after the router secret was checked', async () => {
    const { deps } = app.running;
    const secret = 'router-secret-for-the-shortcut-test';
    const guarded = createServer({ logger: deps.logger, createContext: deps.createContext, routerSecret: secret });
    await guarded.start();
    const url = await listen(guarded);
    try {
      const body = { query: PRODUCT, variables: { id: ids[0] } };
      expect((await send(url, body, { 'x-router-secret': secret })).status).toBe(200);
      expect((await send(url, body, { 'x-router-secret': secret })).status).toBe(200);
      expect(guarded.shortcutAnswers()).toBe(1);
      const refused = await send(url, body);
      expect(refused.status).toBe(401);
      expect(refused.body).toContain('UNAUTHENTICATED');
      expect(guarded.shortcutAnswers()).toBe(1);
    } finally {
      await guarded.stop();
    }
  });

  it('sees a mutation at once: the next shortcut answer carries the new version', async () => {
    const body = { query: PRODUCT, variables: { id: ids[2] } };
    await send(urls.fast, body);
    const mutation = { query: 'mutation($id: ID!) { adjustStock(id: $id, delta: 3) { version } }', variables: { id: ids[2] } };
    const written = JSON.parse((await send(urls.slow, mutation)).body) as { data: { adjustStock: { version: number } } };
    const before = fast.shortcutAnswers();
    const read = JSON.parse((await send(urls.fast, body)).body) as { data: { product: { version: number } } };
    expect(fast.shortcutAnswers()).toBe(before + 1);
    expect(read.data.product.version).toBe(written.data.adjustStock.version);
  });
});

describe('answering a learned list operation before Apollo', () => {
  it('answers a cheaper page, and a page after a cursor, of a learned operation', async () => {
    await send(urls.fast, { query: PAGE, variables: { id: account, first: 3 } });
    for (const variables of [{ id: account, first: 1 }, { id: account, first: 2, after: await cursorAfter(1) }, { id: account, first: 3, after: await cursorAfter(3) }]) {
      const before = fast.shortcutAnswers();
      const answer = await send(urls.fast, { query: PAGE, variables });
      expect(fast.shortcutAnswers(), JSON.stringify(variables)).toBe(before + 1);
      expect(answer).toEqual(await send(urls.slow, { query: PAGE, variables }));
      expect(answer.body).not.toContain('"errors"');
    }
  });

  it('sees a placed order at once: the next shortcut answer has it at the head of the page', async () => {
    const body = { query: LIST, variables: { id: account } };
    await send(urls.fast, body);
    const placed = JSON.parse((await send(urls.slow, { query: 'mutation($a: ID!, $p: ID!) { placeOrder(accountId: $a, lines: [{ productId: $p, quantity: 1 }]) { id } }', variables: { a: account, p: ids[1] } })).body) as {
      data: { placeOrder: { id: string } };
    };
    const before = fast.shortcutAnswers();
    const read = await send(urls.fast, body);
    expect(fast.shortcutAnswers()).toBe(before + 1);
    const nodes = (JSON.parse(read.body) as { data: { account: { orders: { nodes: { id: string }[] } } } }).data.account.orders.nodes;
    expect(nodes.map((n) => n.id)).toEqual([placed.data.placeOrder.id, ...orderIds]);
    orderIds.unshift(placed.data.placeOrder.id);
    expect(read).toEqual(await send(urls.slow, body));
  });
});

describe('the shortcut fence', () => {
  it('turns itself off when a plugin that is not on its allow-list is added, and Apollo answers everything', async () => {
    const { deps } = app.running;
    const fenced = createServer({ logger: deps.logger, createContext: deps.createContext });
    let seen = 0;
    // A plugin the shortcut would skip: it must see every request.
    fenced.apollo.addPlugin({ requestDidStart: async () => void seen++ });
    await fenced.start();
    try {
      const url = await listen(fenced);
      const body = { query: PRODUCT, variables: { id: ids[0] } };
      for (let i = 0; i < 3; i++) expect((await send(url, body)).status).toBe(200);
      expect(fenced.shortcutAnswers()).toBe(0);
      expect(seen).toBe(3);
    } finally {
      await fenced.stop();
    }
  });

  it('is on with the server\'s own plugins only', async () => {
    const before = fast.shortcutAnswers();
    const body = { query: PRODUCT, variables: { id: ids[1] } };
    await send(urls.fast, body);
    await send(urls.fast, body);
    expect(fast.shortcutAnswers()).toBeGreaterThan(before);
  });
});
