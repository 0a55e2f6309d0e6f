import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { QUIET_BACKGROUND, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';
import { costCounters } from '../helpers/counting.js';
import { rawFetch } from '../helpers/http.js';

const ROUTER_SECRET = 'router-secret-7f3a9c1e5b2d';
const WRITE_TOKEN_A = 'write-token-alpha-0123456789';
const WRITE_TOKEN_B = 'write-token-bravo-9876543210';

/** Log lines as the app wrote them, parsed. */
function captureLogs() {
  const lines: string[] = [];
  return {
    lines,
    destination: { write: (line: string) => void lines.push(line) },
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const createMutation = 'mutation($input: NewProduct!) { createProduct(input: $input) { id version } }';
const newProduct = () => ({ input: { sku: uniqueSku('ACL'), name: 'Guarded', priceCents: 100, stock: 1 } });

describe('with ROUTER_SECRET and WRITE_TOKENS', () => {
  let app: TestApp;
  const logs = captureLogs();

  beforeAll(async () => {
    app = await startTestApp(
      { ...QUIET_BACKGROUND, ROUTER_SECRET, WRITE_TOKENS: `${WRITE_TOKEN_A}, ${WRITE_TOKEN_B}`, LOG_LEVEL: 'trace' },
      { logDestination: logs.destination },
    );
  });
  afterAll(async () => {
    await app?.close();
  });
  const costs = costCounters(() => app);

  const router = { 'x-router-secret': ROUTER_SECRET };

  it('refuses GraphQL without the right x-router-secret: 401 UNAUTHENTICATED, before any work', async () => {
    const attempts: Record<string, string>[] = [{}, { 'x-router-secret': '' }, { 'x-router-secret': 'x' }, { 'x-router-secret': `${ROUTER_SECRET.slice(0, -1)}X` }, { 'x-router-secret': `${ROUTER_SECRET}${ROUTER_SECRET}` }, { authorization: `Bearer ${ROUTER_SECRET}` }];
    for (const headers of attempts) {
      const res = await app.gql(`query($id: ID!) { product(id: $id) { id } }`, { id: newId() }, headers);
      expect(res.status).toBe(401);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
      expect(res.data ?? null).toBeNull();
    }
    // A GET too, and a body too large to read: the secret is checked first.
    const get = await rawFetch(`${app.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { 'apollo-require-preflight': '1' } });
    expect(get.status).toBe(401);
    await app.running.deps.cache.idle();
    expect(costs.sql.count).toBe(0);
    expect(costs.redisTrips.count).toBe(0);
  });

  it('serves queries, including _entities, with the router secret and no write token', async () => {
    const res = await app.gql<{ product: null }>(`query($id: ID!) { product(id: $id) { id } }`, { id: newId() }, router);
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
    const entities = await app.gql(`query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }`, { r: [{ __typename: 'Product', id: newId() }] }, router);
    expect(entities.errors).toBeUndefined();
  });

  it('refuses mutations without a write token: 403 FORBIDDEN, before any work', async () => {
    for (const authorization of [undefined, '', 'Bearer', `Bearer ${ROUTER_SECRET}`, `Basic ${WRITE_TOKEN_A}`, `Bearer ${WRITE_TOKEN_A}x`, `Bearer ${WRITE_TOKEN_A} ${WRITE_TOKEN_B}`]) {
      const headers: Record<string, string> = { ...router, ...(authorization === undefined ? {} : { authorization }) };
      const res = await app.gql(createMutation, newProduct(), headers);
      expect(res.status, String(authorization)).toBe(403);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      expect(res.data ?? null).toBeNull();
    }
    await app.running.deps.cache.idle();
    expect(costs.sql.count).toBe(0);
    expect(costs.redisTrips.count).toBe(0);
  });

  it('a write token without the router secret is still refused with 401', async () => {
    const res = await app.gql(createMutation, newProduct(), { authorization: `Bearer ${WRITE_TOKEN_A}` });
    expect(res.status).toBe(401);
  });

  it('runs mutations with either write token (scheme case-insensitive)', async () => {
    for (const authorization of [`Bearer ${WRITE_TOKEN_A}`, `bearer ${WRITE_TOKEN_B}`]) {
      const res = await app.gql<{ createProduct: { version: number } }>(createMutation, newProduct(), { ...router, authorization });
      expect(res.errors).toBeUndefined();
      expect(res.data?.createProduct.version).toBe(1);
    }
  });

  it('serves /healthz, /readyz and /metrics without the router secret', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await rawFetch(new URL(path, app.url).toString());
      expect(res.status, path).toBe(200);
    }
  });

  it('echoes x-request-id, or makes one', async () => {
    const given = await rawFetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-abc.123', ...router },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(given.headers.get('x-request-id')).toBe('trace-abc.123');
    const made = await rawFetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // Not echoed when it could break a log line or a header.
    const odd = await rawFetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'a b"c' }, body: '{}' });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs one line per request with id, operation, status, duration and cache hits and misses; never a secret', async () => {
    const id = newId();
    await app.gql(`query ReadOne($id: ID!) { product(id: $id) { id } }`, { id }, { ...router, 'x-request-id': 'req-log-check' });
    const entries = logs.entries().filter((entry) => entry['reqId'] === 'req-log-check');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ msg: 'request', operation: 'ReadOne', type: 'query', status: 200, cacheHits: 0, cacheMisses: 1 });
    expect(typeof entries[0]?.['durationMs']).toBe('number');
    // Variables stay out of the log by default.
    expect(JSON.stringify(entries[0])).not.toContain(id);

    const all = logs.lines.join('\n');
    expect(all.length).toBeGreaterThan(0);
    for (const secret of [ROUTER_SECRET, WRITE_TOKEN_A, WRITE_TOKEN_B]) expect(all).not.toContain(secret);
    const requestLines = logs.entries().filter((entry) => entry['msg'] === 'request');
    expect(requestLines.some((entry) => entry['status'] === 401 && (entry['errors'] as string[])?.[0] === 'UNAUTHENTICATED')).toBe(true);
    expect(requestLines.some((entry) => entry['status'] === 403 && (entry['errors'] as string[])?.[0] === 'FORBIDDEN')).toBe(true);
  });

  it('says at start that access control is on, without naming the secrets', () => {
    const startLines = logs.entries().filter((entry) => String(entry['msg']).startsWith('access control'));
    expect(startLines).toHaveLength(1);
    expect(startLines[0]?.['level']).toBe(30);
  });
});

describe('without ROUTER_SECRET and WRITE_TOKENS', () => {
  let app: TestApp;
  const logs = captureLogs();

  beforeAll(async () => {
    app = await startTestApp({ LOG_LEVEL: 'info' }, { logDestination: logs.destination });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('runs open, and says so once at start', async () => {
    const res = await app.gql<{ createProduct: { version: number } }>(createMutation, newProduct());
    expect(res.errors).toBeUndefined();
    await app.gql(`query($id: ID!) { product(id: $id) { id } }`, { id: newId() });
    const warnings = logs.entries().filter((entry) => /access control is off/.test(String(entry['msg'])));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.['level']).toBe(40);
  });
});
