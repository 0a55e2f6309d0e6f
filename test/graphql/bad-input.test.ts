import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { dataOf, startTestApp, uniqueSku, type TestApp, QUIET_BACKGROUND } from '../helpers/app.js';
import { costCounters } from '../helpers/counting.js';
import { postChunked, rawFetch, type RawResponse } from '../helpers/http.js';

/**
 * Everything here is refused. Each case checks the HTTP status, the
 * `extensions.code`, that no stack trace leaks, and that the refusal cost no
 * SQL statement and no Redis round trip: it was decided before any work.
 */
let app: TestApp;
const keyCount = async () => {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await app.redis.scan(cursor, 'MATCH', `${app.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    // The cache epoch is written when the server connects, by no request.
    count += keys.filter((key) => key !== `${app.prefix}:epoch`).length;
  } while (cursor !== '0');
  return count;
};

beforeAll(async () => {
  app = await startTestApp(QUIET_BACKGROUND);
});
afterAll(async () => {
  await app?.close();
});
const costs = costCounters(() => app);

const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  rawFetch(app.url, { method: 'POST', headers, body });
const postJson = (payload: unknown, headers: Record<string, string> = {}) =>
  post(JSON.stringify(payload), { 'content-type': 'application/json', ...headers });

/** The refusal contract: status, code, no stack, no work. */
async function expectRefused(res: RawResponse, status: number, code: string): Promise<void> {
  expect({ status: res.status, body: res.text.slice(0, 300) }).toMatchObject({ status });
  expect(res.json?.errors?.length, res.text.slice(0, 300)).toBeGreaterThan(0);
  expect(res.json?.errors?.map((e) => e.extensions?.['code'])).toContain(code);
  // Refused before execution: no data. Refused by a resolver (HTTP 200): its field is null.
  const data = (res.json?.data ?? null) as Record<string, unknown> | null;
  if (data !== null) expect(Object.values(data).every((value) => value === null)).toBe(true);
  else expect(res.json?.data ?? null).toBeNull();
  expectNoLeak(res);
  await app.running.deps.cache.idle();
  expect(costs.sql.statements).toEqual([]);
  expect(costs.redisTrips.count).toBe(0);
}

function expectNoLeak(res: RawResponse): void {
  expect(res.text).not.toMatch(/stacktrace|\n\s+at |\.ts:\d+|node_modules|select .* from/i);
  for (const error of res.json?.errors ?? []) expect(Object.keys(error.extensions ?? {})).not.toContain('stacktrace');
}

const codes = (res: RawResponse) => res.json?.errors?.map((e) => e.extensions?.['code']);
const limitsOf = (res: RawResponse) => res.json?.errors?.map((e) => e.extensions?.['limit']);

describe('transport', () => {
  it('malformed JSON: 400 BAD_REQUEST', async () => {
    await expectRefused(await post('{"query": "{ __typename }"'), 400, 'BAD_REQUEST');
    await expectRefused(await post('{"query": "{ __typename }"}}'), 400, 'BAD_REQUEST');
  });

  it('wrong or missing content type: 415 BAD_REQUEST', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/graphql']) {
      await expectRefused(await post('{"query":"{ __typename }"}', { 'content-type': type }), 415, 'BAD_REQUEST');
    }
    await expectRefused(await post('{"query":"{ __typename }"}', {}), 415, 'BAD_REQUEST');
  });

  it('an empty body, or JSON that is not an object: 400 BAD_REQUEST', async () => {
    for (const body of ['', '42', '"{ __typename }"', 'null', '{}', '{"query": 42}', '{"query": "{ __typename }", "variables": "{}"}']) {
      await expectRefused(await post(body), 400, 'BAD_REQUEST');
    }
  });

  it('batched requests (a JSON array body): 400 BAD_REQUEST', async () => {
    const batch = [{ query: '{ __typename }' }, { query: 'mutation { deleteProduct(id: "x") }' }];
    const res = await postJson(batch);
    await expectRefused(res, 400, 'BAD_REQUEST');
    expect(res.json?.errors?.[0]?.message).toMatch(/batch/i);
    await expectRefused(await postJson([]), 400, 'BAD_REQUEST');
  });

  it('a mutation over GET: 405 BAD_REQUEST (and a GET without a preflight header is blocked as CSRF)', async () => {
    const search = new URLSearchParams({ query: `mutation { deleteProduct(id: "${newId()}") }` });
    const res = await rawFetch(`${app.url}?${search}`, { headers: { 'apollo-require-preflight': 'true' } });
    await expectRefused(res, 405, 'BAD_REQUEST');
    await expectRefused(await rawFetch(`${app.url}?${search}`), 400, 'BAD_REQUEST');
  });

  it('other methods: 405 BAD_REQUEST', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      await expectRefused(await rawFetch(app.url, { method, headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }), 405, 'BAD_REQUEST');
    }
  });

  it('bodies over 1 MB: 413 BAD_REQUEST, whether declared in content-length or streamed', async () => {
    const big = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(1024 * 1024) } });
    await expectRefused(await post(big), 413, 'BAD_REQUEST');
    const streamed = await postChunked(app.url, 'x'.repeat(64 * 1024), 40);
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.text).errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(costs.sql.count).toBe(0);
    expect(costs.redisTrips.count).toBe(0);
  });

  it('an accept header that allows no JSON answer: 406 BAD_REQUEST before anything runs (Apollo would run a mutation first)', async () => {
    const mutation = JSON.stringify({ query: `mutation { adjustStock(id: "${newId()}", delta: 1) { id } }` });
    for (const accept of ['text/html', 'application/xml', 'application/json;q=0', 'multipart/mixed']) {
      await expectRefused(await post(mutation, { 'content-type': 'application/json', accept }), 406, 'BAD_REQUEST');
    }
  });

  it('an unknown path: 404 NOT_FOUND', async () => {
    await expectRefused(await rawFetch(new URL('/admin', app.url).toString()), 404, 'NOT_FOUND');
  });
});

describe('mistakes plain Apollo answers with INTERNAL_SERVER_ERROR', () => {
  const persisted = (sha256Hash: unknown, version: unknown = 1) => ({ extensions: { persistedQuery: { version, sha256Hash } } });

  it('an automatic persisted query whose hash does not match its text: 400 BAD_REQUEST', async () => {
    const res = await postJson({ query: '{ __typename }', ...persisted('0'.repeat(64)) });
    await expectRefused(res, 400, 'BAD_REQUEST');
    expect(res.json?.errors?.[0]?.message).toMatch(/does not match/);
    await expectRefused(await postJson({ query: '{ __typename }', ...persisted(42) }), 400, 'BAD_REQUEST');
  });

  it('a persisted query extension of another version or shape: 400 BAD_REQUEST', async () => {
    await expectRefused(await postJson({ query: '{ __typename }', ...persisted('0'.repeat(64), 2) }), 400, 'BAD_REQUEST');
    await expectRefused(await postJson({ query: '{ __typename }', extensions: { persistedQuery: 'yes' } }), 400, 'BAD_REQUEST');
  });

  it('a subscription, on a schema without subscriptions: 400 GRAPHQL_VALIDATION_FAILED', async () => {
    const res = await postJson({ query: `subscription { product(id: "${newId()}") { id } }` });
    await expectRefused(res, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(res.json?.errors?.[0]?.message).toMatch(/subscription/i);
  });
});

describe('query limits', () => {
  it('deep queries: 400 GRAPHQL_VALIDATION_FAILED naming MAX_DEPTH', async () => {
    let selection = 'id';
    for (let i = 0; i < 12; i++) selection = `f${i} { ${selection} }`;
    const res = await postJson({ query: `{ product(id: "${newId()}") { ${selection} } }` });
    await expectRefused(res, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(limitsOf(res)).toContain('MAX_DEPTH');
  });

  it('wide queries: 400 GRAPHQL_VALIDATION_FAILED naming MAX_TOKENS', async () => {
    const res = await postJson({ query: `{ product(id: "${newId()}") { ${'id '.repeat(1200)} } }` });
    await expectRefused(res, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(limitsOf(res)).toEqual(['MAX_TOKENS']);
    expect(res.json?.errors?.[0]?.message).toMatch(/1000 tokens/);
  });

  it('alias floods: 400 GRAPHQL_VALIDATION_FAILED naming MAX_ALIASES', async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `p${i}: product(id: "${newId()}") { id }`).join(' ');
    const res = await postJson({ query: `{ ${aliases} }` });
    await expectRefused(res, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(limitsOf(res)).toEqual(['MAX_ALIASES']);
    // The same aliases reached through a fragment spread twice count twice.
    const inFragment = Array.from({ length: 8 }, (_, i) => `a${i}: __typename`).join(' ');
    const twice = await postJson({ query: `{ ...F ... { ...F } } fragment F on Query { ${inFragment} }` });
    await expectRefused(twice, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(limitsOf(twice)).toEqual(['MAX_ALIASES']);
  });

  it('directive floods: 400 GRAPHQL_VALIDATION_FAILED naming MAX_DIRECTIVES', async () => {
    const spreads = Array.from({ length: 51 }, () => '...F @include(if: true)').join(' ');
    const res = await postJson({ query: `{ ${spreads} } fragment F on Query { __typename }` });
    await expectRefused(res, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(limitsOf(res)).toContain('MAX_DIRECTIVES');
  });

  it('circular fragments: 400 GRAPHQL_VALIDATION_FAILED, and the limits do not loop', async () => {
    const res = await postJson({
      query: '{ ...A } fragment A on Query { __typename ...B } fragment B on Query { __typename ...A }',
    });
    await expectRefused(res, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(res.json?.errors?.[0]?.message).toMatch(/Cannot spread fragment "A" within itself/);
  });

  it('fragments that double at every level ("billion laughs"): refused by cost before execution, quickly', async () => {
    const levels = 30;
    const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
    fragments.push(`fragment F${levels} on Query { __typename }`);
    const began = Date.now();
    const res = await postJson({ query: `{ ...F0 } ${fragments.join(' ')}` });
    expect(Date.now() - began).toBeLessThan(2000);
    await expectRefused(res, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(limitsOf(res)).toEqual(['MAX_COST']);
  });

  it('huge id lists: over the cost limit 400 GRAPHQL_VALIDATION_FAILED; over 500 ids BAD_USER_INPUT, before any lookup', async () => {
    const ids = (n: number) => Array.from({ length: n }, () => newId());
    const overCost = await postJson({ query: 'query($ids: [ID!]!) { products(ids: $ids) { id } }', variables: { ids: ids(1001) } });
    await expectRefused(overCost, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(overCost.json?.errors?.[0]?.extensions).toMatchObject({ limit: 'MAX_COST', cost: 1001, max: 1000 });
    // Two lists of 600 are over the limit together, though each alone is not.
    const twoLists = await postJson({
      query: 'query($a: [ID!]!, $b: [ID!]!) { a: products(ids: $a) { id } b: accounts(ids: $b) { id } }',
      variables: { a: ids(600), b: ids(600) },
    });
    await expectRefused(twoLists, 400, 'GRAPHQL_VALIDATION_FAILED');
    const literal = await postJson({ query: `{ products(ids: [${ids(990).map((id) => `"${id}"`).join(',')}]) { id } }` });
    await expectRefused(literal, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(limitsOf(literal)).toEqual(['MAX_TOKENS']);
    // Within the cost limit but over the list limit: the resolver refuses before loading anything.
    const overList = await postJson({ query: 'query($ids: [ID!]!) { products(ids: $ids) { id } }', variables: { ids: ids(501) } });
    await expectRefused(overList, 200, 'BAD_USER_INPUT');
  });

  it('_entities with more representations than the cost allows: 400 GRAPHQL_VALIDATION_FAILED', async () => {
    const representations = Array.from({ length: 1200 }, () => ({ __typename: 'Product', id: newId() }));
    const res = await postJson({
      query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }',
      variables: { r: representations },
    });
    await expectRefused(res, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(limitsOf(res)).toEqual(['MAX_COST']);
  });

  it('deep introspection: 400 GRAPHQL_VALIDATION_FAILED (graphql-js MaxIntrospectionDepthRule; MAX_DEPTH exempts __ fields)', async () => {
    const deep = '{ __type(name: "Product") { fields { type { fields { type { fields { name } } } } } } }';
    const res = await postJson({ query: deep });
    await expectRefused(res, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(res.json?.errors?.[0]?.message).toMatch(/introspection depth/i);
    // The same nesting through __schema, and hidden in fragments that spread each other.
    await expectRefused(await postJson({ query: '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }' }), 400, 'GRAPHQL_VALIDATION_FAILED');
    const viaFragments =
      '{ __type(name: "Product") { ...A } } fragment A on __Type { fields { type { ...B } } } fragment B on __Type { fields { type { ...C } } } fragment C on __Type { fields { name } }';
    await expectRefused(await postJson({ query: viaFragments }), 400, 'GRAPHQL_VALIDATION_FAILED');
  });

  it('the introspection query every tool sends fits the limits', async () => {
    const { getIntrospectionQuery } = await import('graphql');
    const res = await postJson({ query: getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }) });
    expect(res.status).toBe(200);
    expect(res.json?.errors).toBeUndefined();
  });
});

describe('values', () => {
  const readProduct = 'query($id: ID!) { product(id: $id) { id } }';

  it('ids with quotes, unicode and control characters: BAD_USER_INPUT, no lookup', async () => {
    for (const id of [`abc"def`, `'; drop table products; --`, 'ünïcödé-😀-id', 'a\u0000b', '\u202e\u2028', '0'.repeat(36), `${newId()} `]) {
      await expectRefused(await postJson({ query: readProduct, variables: { id } }), 200, 'BAD_USER_INPUT');
    }
    await expectRefused(await postJson({ query: `{ product(id: "abc\\"def\\u0000") { id } }` }), 200, 'BAD_USER_INPUT');
    await expectRefused(
      await postJson({ query: 'query($s: String!) { productBySku(sku: $s) { id } }', variables: { s: 'SKU\u0007\u0000' } }),
      200,
      'BAD_USER_INPUT',
    );
  });

  it('enormous strings: BAD_USER_INPUT, nothing written', async () => {
    const huge = 'Ω'.repeat(300_000);
    await expectRefused(
      await postJson({ query: 'query($s: String!) { productBySku(sku: $s) { id } }', variables: { s: huge } }),
      200,
      'BAD_USER_INPUT',
    );
    await expectRefused(
      await postJson({
        query: 'mutation($input: NewProduct!) { createProduct(input: $input) { id } }',
        variables: { input: { sku: uniqueSku(), name: huge, priceCents: 1, stock: 1 } },
      }),
      200,
      'BAD_USER_INPUT',
    );
  });

  it('integers out of range: 400 (GRAPHQL_VALIDATION_FAILED as literals, BAD_USER_INPUT as variables)', async () => {
    const id = newId();
    await expectRefused(await postJson({ query: `mutation { adjustStock(id: "${id}", delta: 99999999999) { id } }` }), 400, 'GRAPHQL_VALIDATION_FAILED');
    await expectRefused(await postJson({ query: `mutation { adjustStock(id: "${id}", delta: 1.5) { id } }` }), 400, 'GRAPHQL_VALIDATION_FAILED');
    const adjust = 'mutation($id: ID!, $d: Int!) { adjustStock(id: $id, delta: $d) { id } }';
    for (const d of [2 ** 31, -(2 ** 31) - 1, 1e300, '12', null]) {
      await expectRefused(await postJson({ query: adjust, variables: { id, d } }), 400, 'BAD_USER_INPUT');
    }
    // In range for GraphQL, out of range for a price: the service refuses it before the transaction.
    await expectRefused(
      await postJson({
        query: 'mutation($input: NewProduct!) { createProduct(input: $input) { id } }',
        variables: { input: { sku: uniqueSku(), name: 'x', priceCents: -1, stock: 1 } },
      }),
      200,
      'BAD_USER_INPUT',
    );
  });

  it('deeply nested JSON in variables: a coded 400', async () => {
    const nested = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const res = await post(`{"query":"query($ids: [ID!]!) { products(ids: $ids) { id } }","variables":{"ids":${nested}}}`);
    expect(res.status).toBe(400);
    expect(['BAD_REQUEST', 'BAD_USER_INPUT']).toContain(codes(res)?.[0]);
    expectNoLeak(res);
    expect(costs.sql.count).toBe(0);
    expect(costs.redisTrips.count).toBe(0);
  });
});

describe('afterwards', () => {
  // Other suites share the database, so "nothing written to Postgres" is proven per case by counting
  // statements (none at all); this app's Redis keys are its own, so they can be counted whole.
  it('nothing was written, and the server still serves normal requests', async () => {
    expect(await keyCount()).toBe(0);
    const created = dataOf(
      await app.gql<{ createProduct: { id: string; version: number } }>(
        'mutation($input: NewProduct!) { createProduct(input: $input) { id version } }',
        { input: { sku: uniqueSku(), name: 'Still here', priceCents: 100, stock: 1 } },
      ),
    ).createProduct;
    expect(created.version).toBe(1);
    const read = dataOf(await app.gql<{ product: { id: string } }>('query($id: ID!) { product(id: $id) { id } }', { id: created.id }));
    expect(read.product.id).toBe(created.id);
  });
});
