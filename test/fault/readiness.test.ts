import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';
import { rawFetch, sampleValue } from '../helpers/http.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The app runs against a redis-server of this test's own, which the test stops
 * and starts again; the shared Redis is never touched.
 */
let redis: OwnRedis;
let app: TestApp;

beforeAll(async () => {
  redis = await OwnRedis.start();
  app = await startTestApp({ REDIS_URL: redis.url, READY_TIMEOUT_MS: '500', CACHE_WRITE_BACKOFF_MS: '5' });
});
afterAll(async () => {
  await app?.close();
  await redis?.stop();
});

const ready = async () => {
  const res = await rawFetch(new URL('/readyz', app.url).toString());
  return { status: res.status, body: res.json as { status: string; checks: Record<string, string> } };
};
const metrics = async () => (await rawFetch(new URL('/metrics', app.url).toString())).text;


describe('/readyz follows Redis', () => {
  it('is ready with Postgres and Redis up', async () => {
    expect(await ready()).toEqual({ status: 200, body: { status: 'ready', checks: { serving: 'ok', database: 'ok', cache: 'ok' } } });
    const health = await rawFetch(new URL('/healthz', app.url).toString());
    expect(health.status).toBe(200);
  });

  it('turns 503 naming the cache when Redis stops, while reads and writes still work and failures are counted', async () => {
    await redis.stop();
    const down = await waitFor('readyz after stopping redis', ready, (r) => r.status === 503);
    expect(down.body.status).toBe('unavailable');
    expect(down.body.checks['database']).toBe('ok');
    expect(down.body.checks['cache']).not.toBe('ok');
    // The process itself is fine.
    expect((await rawFetch(new URL('/healthz', app.url).toString())).status).toBe(200);

    // Degrades, never fails: the mutation commits, the read is served by Postgres.
    const created = dataOf(
      await app.gql<{ createProduct: { id: string; version: number } }>(
        'mutation($input: NewProduct!) { createProduct(input: $input) { id version } }',
        { input: { sku: uniqueSku('DOWN'), name: 'Written while Redis is down', priceCents: 1, stock: 1 } },
      ),
    ).createProduct;
    const read = dataOf(await app.gql<{ product: { version: number } }>('query($id: ID!) { product(id: $id) { version } }', { id: created.id }));
    expect(read.product.version).toBe(1);
    await app.running.deps.cache.idle();
    const text = await metrics();
    expect(sampleValue(text, 'freshgraph_cache_write_failures_total')).toBeGreaterThanOrEqual(1);
    // Retries stop once the circuit breaker opens; after that, calls are skipped rather than attempted.
    expect(sampleValue(text, 'freshgraph_cache_write_retries_total')).toBeGreaterThanOrEqual(1);
    // The key whose write failed is served from Postgres until it is repaired.
    expect(sampleValue(text, 'freshgraph_cache_untrusted_keys', { scope: 'own' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'freshgraph_redis_duration_seconds_count', { op: 'write', result: 'error' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'freshgraph_cache_breaker_opens_total')).toBeGreaterThanOrEqual(1);
  });

  it('recovers when Redis returns', async () => {
    await redis.start();
    const up = await waitFor('readyz after restarting redis', ready, (r) => r.status === 200);
    expect(up.body).toEqual({ status: 'ready', checks: { serving: 'ok', database: 'ok', cache: 'ok' } });
  });
});
