import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type FreshgraphServer, type ServerDeps } from '../../src/server.js';
import { codesOf, dataOf, postGraphql, QUIET_BACKGROUND, startTestApp, type TestApp } from '../helpers/app.js';
import { countSql } from '../helpers/counting.js';
import { insertProducts } from '../helpers/products.js';
import { ROOT_FIELD_CASES } from '../helpers/root-fields.js';

/** Bounded work per request: a response-size cap and an execution deadline. */
let app: TestApp;
let productIds: string[];
let orderIds: string[];
const listening: Server[] = [];
const servers: FreshgraphServer[] = [];

/** Another server over the test app's loaders and cache, with these options, listening on loopback. */
async function serverWith(options: Partial<ServerDeps>): Promise<{ server: FreshgraphServer; url: string }> {
  const { deps } = app.running;
  const server = createServer({ logger: deps.logger, createContext: deps.createContext, ...options });
  servers.push(server);
  await server.start();
  const http = createHttpServer(server.handler);
  listening.push(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql` };
}

beforeAll(async () => {
  app = await startTestApp(QUIET_BACKGROUND);
  productIds = await insertProducts(app.running.deps.db.knex, 500, 1_000_000);
  const account = dataOf(await app.gql<{ createAccount: { id: string } }>('mutation { createAccount(owner: "Load", balanceCents: 2000000000) { id } }'))
    .createAccount.id;
  // Four orders of the most lines an order may have.
  orderIds = [];
  for (let i = 0; i < 4; i++) {
    const lines = productIds.slice(i * 100, (i + 1) * 100).map((productId) => ({ productId, quantity: 1 }));
    const placed = await app.gql<{ placeOrder: { id: string } }>('mutation($a: ID!, $l: [OrderLineInput!]!) { placeOrder(accountId: $a, lines: $l) { id } }', {
      a: account,
      l: lines,
    });
    orderIds.push(dataOf(placed).placeOrder.id);
  }
});
afterAll(async () => {
  for (const http of listening) http.close();
  await Promise.all(servers.map((s) => s.stop()));
  await app?.close();
});

const PRODUCTS = 'query($ids: [ID!]!) { products(ids: $ids) { id sku name priceCents stock version updatedAt } }';

describe('the response-size cap', () => {
  it('answers RESPONSE_TOO_LARGE (HTTP 200, data null) instead of a response over MAX_RESPONSE_BYTES, from Apollo', async () => {
    const { url } = await serverWith({ maxResponseBytes: 2000, fastPath: false });
    const small = await postGraphql(url, PRODUCTS, { ids: productIds.slice(0, 2) });
    expect(codesOf(small)).toEqual([]);
    const large = await postGraphql(url, PRODUCTS, { ids: productIds.slice(0, 30) });
    expect(large.status).toBe(200);
    expect(large.data).toBeNull();
    expect(large.errors).toEqual([{ message: expect.stringMatching(/^The response is \d+ bytes; at most 2000 are sent/), extensions: { code: 'RESPONSE_TOO_LARGE', max: 2000 } }]);
  });

  it('holds for the shortcut too, which answers before Apollo', async () => {
    const { server, url } = await serverWith({ maxResponseBytes: 2000 });
    const variables = { ids: productIds.slice(0, 30) };
    // The fast path answers this through Apollo once (and learns it), then the shortcut answers it.
    expect(codesOf(await postGraphql(url, PRODUCTS, variables))).toEqual(['RESPONSE_TOO_LARGE']);
    const before = server.shortcutAnswers();
    const again = await postGraphql(url, PRODUCTS, variables);
    expect(server.shortcutAnswers()).toBe(before + 1);
    expect(codesOf(again)).toEqual(['RESPONSE_TOO_LARGE']);
    expect(again.data).toBeNull();
  });
});

/** One server per name, shared by the tests that ask for it. */
const named = new Map<string, Promise<{ server: FreshgraphServer; url: string }>>();
const cachedServer = (name: string, options: Partial<ServerDeps>) => {
  let known = named.get(name);
  if (known === undefined) named.set(name, (known = serverWith(options)));
  return known;
};

describe('the execution deadline', () => {
  it.each(ROOT_FIELD_CASES.map((c) => [c.field, c] as const))('stops %s before it does anything, once past EXECUTION_TIMEOUT_MS', async (_, c) => {
    const { url } = await cachedServer('expired', { executionTimeoutMs: 0, fastPath: false });
    const sql = countSql(app.running.deps.db.knex);
    try {
      const res = await postGraphql(url, c.query, c.variables);
      expect(res.status).toBe(200);
      expect(codesOf(res)).toEqual(['EXECUTION_TIMEOUT']);
      expect(res.errors?.[0]?.message).toMatch(/deadline of 0 ms/);
      expect(sql.statements).toEqual([]);
    } finally {
      sql.stop();
    }
  });

  it('leaves what needs no resolver alone', async () => {
    const { url } = await cachedServer('expired', { executionTimeoutMs: 0, fastPath: false });
    expect(dataOf(await postGraphql(url, '{ __typename }'))).toEqual({ __typename: 'Query' });
  });
});
