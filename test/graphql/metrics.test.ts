import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { dataOf, QUIET_BACKGROUND, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';
import { rawFetch, sampleValue } from '../helpers/http.js';

/** Two servers in one process: each has its own registry, so neither sees the other's requests. */
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  // Counted exactly: no background repair passes or samples in between.
  app = await startTestApp({ ...QUIET_BACKGROUND, DEBUG_EXTENSIONS: 'true' });
  other = await startTestApp();
});
afterAll(async () => {
  await app?.close();
  await other?.close();
});

const scrape = async (target: TestApp = app) => {
  await target.running.deps.cache.idle();
  const res = await rawFetch(new URL('/metrics', target.url).toString());
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text;
};
const value = (text: string, name: string, labels?: Record<string, string>) => sampleValue(text, name, labels) ?? 0;

async function createProduct(): Promise<{ id: string; version: number }> {
  return dataOf(
    await app.gql<{ createProduct: { id: string; version: number } }>(
      'mutation NewOne($input: NewProduct!) { createProduct(input: $input) { id version } }',
      { input: { sku: uniqueSku('MET'), name: 'Measured', priceCents: 100, stock: 5 } },
    ),
  ).createProduct;
}
const read = (id: string, headers: Record<string, string> = {}) =>
  app.gql<{ product: { id: string } | null }>('query ReadOne($id: ID!) { product(id: $id) { id version } }', { id }, headers);

describe('/metrics', () => {
  it('exposes every documented series', async () => {
    const text = await scrape();
    for (const name of [
      'freshgraph_requests_total',
      'freshgraph_request_duration_seconds',
      'freshgraph_cache_hits_total',
      'freshgraph_cache_misses_total',
      'freshgraph_cache_early_refreshes_total',
      'freshgraph_cache_cas_writes_total',
      'freshgraph_cache_write_retries_total',
      'freshgraph_cache_write_failures_total',
      'freshgraph_cache_read_failures_total',
      'freshgraph_cache_fill_failures_total',
      'freshgraph_cache_invalid_values_total',
      'freshgraph_cache_single_flight_joins_total',
      'freshgraph_cache_source_loads_total',
      'freshgraph_redis_duration_seconds',
      'freshgraph_db_query_duration_seconds',
      'freshgraph_cache_write_share',
      'freshgraph_cache_window_operations',
      'freshgraph_process_cpu_seconds_total',
      'freshgraph_process_resident_memory_bytes',
      'freshgraph_nodejs_eventloop_lag_seconds',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    // Every series is ours: nothing from prom-client's global registry or without the prefix.
    expect(text).not.toMatch(/^(?!freshgraph_|#)\S/m);
  });

  it('moves as operations run: requests, hits, misses, CAS writes, Redis and SQL timings, write share', async () => {
    const before = await scrape();
    const product = await createProduct();
    expect((await read(product.id)).data?.product?.id).toBe(product.id);
    await app.running.deps.cache.idle();
    expect((await read(product.id)).data?.product?.id).toBe(product.id);
    const missing = newId();
    await read(missing);
    const after = await scrape();

    const delta = (name: string, labels?: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(delta('freshgraph_requests_total', { operation_type: 'mutation', status: '200' })).toBe(1);
    expect(delta('freshgraph_requests_total', { operation_type: 'query', status: '200' })).toBe(3);
    expect(delta('freshgraph_request_duration_seconds_count', { operation_type: 'query' })).toBe(3);
    expect(delta('freshgraph_request_duration_seconds_count', { operation_type: 'mutation' })).toBe(1);
    // The mutation primed the cache: both reads of the product hit; the missing id missed once.
    expect(delta('freshgraph_cache_hits_total')).toBe(2);
    expect(delta('freshgraph_cache_misses_total')).toBe(1);
    // The write of the new product and of the catalog it joined, and the fill of "no such row" for the missing id.
    expect(delta('freshgraph_cache_cas_writes_total', { outcome: 'written' })).toBe(3);
    expect(delta('freshgraph_cache_source_loads_total')).toBe(1);
    expect(delta('freshgraph_redis_duration_seconds_count', { op: 'write', result: 'ok' })).toBe(1);
    expect(delta('freshgraph_redis_duration_seconds_count', { op: 'read', result: 'ok' })).toBe(3);
    expect(delta('freshgraph_redis_duration_seconds_count', { op: 'fill', result: 'ok' })).toBe(1);
    // create: begin, insert, commit are not all query-runner statements; at least the insert and the read's select.
    expect(delta('freshgraph_db_query_duration_seconds_count', { result: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(value(after, 'freshgraph_cache_window_operations', { kind: 'write' })).toBeGreaterThanOrEqual(1);
    expect(value(after, 'freshgraph_cache_window_operations', { kind: 'read' })).toBeGreaterThanOrEqual(3);
    const share = value(after, 'freshgraph_cache_write_share');
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThan(1);
  });

  it('counts refusals as operation type "none" with their status', async () => {
    const before = await scrape();
    await rawFetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' });
    const after = await scrape();
    expect(value(after, 'freshgraph_requests_total', { operation_type: 'none', status: '400' }) - value(before, 'freshgraph_requests_total', { operation_type: 'none', status: '400' })).toBe(1);
  });

  it('keeps one registry per server instance', async () => {
    const mine = await scrape(app);
    const theirs = await scrape(other);
    expect(value(mine, 'freshgraph_requests_total', { operation_type: 'mutation', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(value(theirs, 'freshgraph_requests_total', { operation_type: 'mutation', status: '200' })).toBe(0);
  });
});

describe('debug view (x-freshgraph-debug: 1 with DEBUG_EXTENSIONS=true)', () => {
  it('shows hits, misses, Redis round trips and SQL statements for the request', async () => {
    const product = await createProduct();
    await app.redis.del(`${app.prefix}:{Product:${product.id}}`);
    const cold = await read(product.id, { 'x-freshgraph-debug': '1' });
    // The miss costs the MGET and the round trip that takes its fill lease.
    expect(cold.extensions?.['cache']).toEqual({ hits: 0, misses: 1, redisRoundTrips: 2, sqlStatements: 1 });
    await app.running.deps.cache.idle();
    const warm = await read(product.id, { 'x-freshgraph-debug': '1' });
    expect(warm.extensions?.['cache']).toEqual({ hits: 1, misses: 0, redisRoundTrips: 1, sqlStatements: 0 });
  });

  it('stays out of responses that do not ask', async () => {
    const plain = await read(newId());
    expect(plain.extensions?.['cache']).toBeUndefined();
    const other0 = await read(newId(), { 'x-freshgraph-debug': '0' });
    expect(other0.extensions?.['cache']).toBeUndefined();
  });

  it('is not served when the server does not allow it', async () => {
    const res = await other.gql('query($id: ID!) { product(id: $id) { id } }', { id: newId() }, { 'x-freshgraph-debug': '1' });
    expect(res.extensions?.['cache']).toBeUndefined();
  });

  it('is never served in production, whatever DEBUG_EXTENSIONS says', async () => {
    const production = await startTestApp({ DEBUG_EXTENSIONS: 'true', NODE_ENV: 'production' });
    try {
      expect(production.running.deps.config.debugExtensions).toBe(false);
      const res = await production.gql('query($id: ID!) { product(id: $id) { id } }', { id: newId() }, { 'x-freshgraph-debug': '1' });
      expect(res.errors).toBeUndefined();
      expect(res.extensions?.['cache']).toBeUndefined();
      // Production also hides introspection and field suggestions.
      const typo = await production.gql('{ product(id: "x") { nam } }');
      expect(typo.status).toBe(400);
      expect(typo.errors?.[0]?.message).not.toMatch(/Did you mean/);
      const intro = await production.gql('{ __schema { queryType { name } } }');
      expect(intro.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
    } finally {
      await production.close();
    }
  });

  it('suggests field names while introspection is on', async () => {
    const typo = await app.gql('{ product(id: "x") { nam } }');
    expect(typo.errors?.[0]?.message).toMatch(/Did you mean "name"/);
  });
});
