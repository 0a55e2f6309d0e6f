import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { createServer, type FreshgraphServer } from '../../src/server.js';
import { codesOf, postGraphql, startTestApp, type TestApp } from '../helpers/app.js';
import { startFastAndSlow } from '../helpers/fast-and-slow.js';
import { insertProducts } from '../helpers/products.js';

// The read fast path (src/fast-path/) must answer exactly what graphql-js execution
// answers. Two servers over the same loaders and cache, one with it and one without,
// run the same operations; an executionDidStart hook shows which path answered.
let app: TestApp;
let fast: FreshgraphServer;
let slow: FreshgraphServer;
let executions: () => number;
let ids: string[];
let accountId: string;


beforeAll(async () => {
  app = await startTestApp();
  const { deps } = app.running;
  ({ fast, slow, executions } = await startFastAndSlow((fastPath) => createServer({ logger: deps.logger, createContext: deps.createContext, fastPath })));
  ids = await insertProducts(deps.db.knex, 5);
  accountId = newId();
  await deps.db.knex('accounts').insert({ id: accountId, owner: 'Ada', balance_cents: 500 });
});
afterAll(async () => {
  await Promise.all([fast?.stop(), slow?.stop()]);
  await app?.close();
});

async function both(query: string, variables?: Record<string, unknown>) {
  const run = async (server: FreshgraphServer) => {
    const res = await server.apollo.executeOperation({ query, variables }, { contextValue: app.running.deps.createContext() });
    if (res.body.kind !== 'single') throw new Error('expected a single result');
    return JSON.stringify(res.body.singleResult);
  };
  const before = executions();
  const answer = await run(fast);
  const executed = executions() > before;
  return { answer, expected: await run(slow), executed };
}

const ALL = 'id sku name priceCents stock version updatedAt';

describe('the read fast path', () => {
  const missing = () => newId();

  it.each([
    ['product(id) by variable', () => [`query($id: ID!) { product(id: $id) { ${ALL} } }`, { id: ids[0] }]],
    ['aliases, __typename and a repeated field', () => [`query Q($id: ID!) { p: product(id: $id) { __typename n: name id name t: __typename } }`, { id: ids[1] }]],
    ['a literal id', () => [`{ product(id: "${ids[2]}") { id stock } }`, undefined]],
    ['an upper-case id', () => [`query($id: ID!) { product(id: $id) { id } }`, { id: ids[2]?.toUpperCase() }]],
    ['a product that does not exist', () => [`query($id: ID!) { product(id: $id) { id } }`, { id: missing() }]],
    ['products(ids) with gaps and repeats', () => [`query($ids: [ID!]!) { products(ids: $ids) { ${ALL} } }`, { ids: [ids[0], missing(), ids[1], ids[0]] }]],
    ['products(ids) with literal ids', () => [`{ products(ids: ["${ids[3]}", "${ids[4]}"]) { id version } }`, undefined]],
    ['an empty products(ids)', () => [`query($ids: [ID!]!) { products(ids: $ids) { id } }`, { ids: [] }]],
    [
      '_entities with a malformed and a missing id',
      () => [
        `query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { __typename ${ALL} } } }`,
        { r: [{ __typename: 'Product', id: ids[0] }, { __typename: 'Product', id: 'nope' }, { __typename: 'Product', id: missing() }, { __typename: 'Product', id: ids[4] }] },
      ],
    ],
    [
      '_entities over two types',
      () => [
        `query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { owner balanceCents } ... on Product { name } } }`,
        { r: [{ __typename: 'Account', id: accountId }, { __typename: 'Product', id: ids[1] }] },
      ],
    ],
    ['account(id) and accounts(ids)', () => [`query($ids: [ID!]!) { accounts(ids: $ids) { id owner balanceCents version updatedAt } }`, { ids: [accountId, missing()] }]],
    // graphql-js keeps such a response key as an own key; an object with a prototype would drop it.
    ['an alias named __proto__', () => [`query($id: ID!) { __proto__: product(id: $id) { __proto__: name constructor: id } }`, { id: ids[0] }]],
    // Variables are read as own properties: `constructor` is the variable, never Object.prototype's.
    ['a variable named constructor', () => [`query($constructor: [ID!]!) { products(ids: $constructor) { id } }`, { constructor: [ids[0], ids[1]] }]],
    ['an order by id, scalar fields only', () => [`query($id: ID!) { order(id: $id) { id totalCents version } }`, { id: missing() }]],
  ] as const)('answers %s without execution, exactly as execution would', async (_, make) => {
    const [query, variables] = make() as [string, Record<string, unknown> | undefined];
    const { answer, expected, executed } = await both(query, variables);
    expect(answer).toBe(expected);
    expect(executed).toBe(false);
    expect(answer).not.toContain('"errors"');
  });

  it.each([
    ['a malformed id (BAD_USER_INPUT)', () => [`query($id: ID!) { product(id: $id) { id } }`, { id: 'not-an-id' }]],
    ['too many ids', () => [`query($ids: [ID!]!) { products(ids: $ids) { id } }`, { ids: Array.from({ length: 501 }, () => ids[0]) }]],
    ['a single id where a list is declared (list coercion)', () => [`query($ids: [ID!]!) { products(ids: $ids) { id } }`, { ids: ids[0] }]],
    ['a numeric id', () => [`query($id: ID!) { product(id: $id) { id } }`, { id: 42 }]],
    ['two root fields', () => [`query($id: ID!) { product(id: $id) { id } again: product(id: $id) { name } }`, { id: ids[0] }]],
    ['a fragment spread', () => [`query($id: ID!) { product(id: $id) { ...F } } fragment F on Product { id name }`, { id: ids[0] }]],
    ['a directive', () => [`query($id: ID!, $yes: Boolean!) { product(id: $id) { id name @include(if: $yes) } }`, { id: ids[0], yes: false }]],
    ['a variable with a default', () => [`query($id: ID! = "${ids[0]}") { product(id: $id) { id } }`, {}]],
    ['a representation with more than its key', () => [`query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }`, { r: [{ __typename: 'Product', id: ids[0], sku: 'x' }] }]],
    ['a representation without a matching fragment', () => [`query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }`, { r: [{ __typename: 'Account', id: accountId }] }]],
    ['a mutation', () => [`mutation($id: ID!) { adjustStock(id: $id, delta: 1) { id } }`, { id: missing() }]],
  ] as const)('leaves %s to execution, with the same answer', async (_, make) => {
    const [query, variables] = make() as [string, Record<string, unknown> | undefined];
    const { answer, expected, executed } = await both(query, variables);
    expect(answer).toBe(expected);
    expect(executed).toBe(true);
  });

  it('never sees an unknown entity type: the _entities check refuses it first', async () => {
    const { answer, expected } = await both(`query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }`, {
      r: [{ __typename: 'Nope', id: ids[0] }],
    });
    expect(answer).toBe(expected);
    expect(answer).toContain('BAD_USER_INPUT');
  });

  it('never sees an operation with a variable it does not use: validation refuses it first', async () => {
    const { answer, expected } = await both(`query($id: ID!, $n: Int!) { product(id: $id) { id } }`, { id: ids[0] });
    expect(answer).toBe(expected);
    expect(answer).toContain('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('what the fast path lets through', () => {
  it('rethrows an error that is not its own fall-through signal: the request fails and the error is logged, never silently retried', async () => {
    const { deps } = app.running;
    const logged: unknown[] = [];
    const logger = deps.logger.child({});
    logger.error = ((obj: unknown) => void logged.push(obj)) as typeof logger.error;
    const server = createServer({
      logger,
      createContext: (meta) => {
        const context = deps.createContext(meta);
        // A bug inside the fast path's read (execution's own loaders still work).
        context.loaders.read = () => Promise.reject(new TypeError('a bug in the fast path'));
        return context;
      },
    });
    await server.start();
    const http = createHttpServer(server.handler);
    try {
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const res = await postGraphql(`http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`, `query($id: ID!) { product(id: $id) { id } }`, { id: ids[0] });
      expect(res.status).toBe(500);
      expect(codesOf(res)).toEqual(['INTERNAL_SERVER_ERROR']);
      expect(JSON.stringify(res)).not.toContain('a bug in the fast path');
      expect(JSON.stringify(logged)).toContain('a bug in the fast path');
    } finally {
      http.close();
      await server.stop();
    }
  });
});
