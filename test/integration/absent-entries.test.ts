import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import type { MemoryStore } from '../../src/cache/memory-store.js';
import { ReadThrough } from '../../src/cache/read-through.js';
import { newId } from '../../src/ids.js';
import { dataOf, QUIET_BACKGROUND, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';
import { insertProducts } from '../helpers/products.js';

/**
 * "No such row" entries (version 0) live for CACHE_ABSENT_TTL_SECONDS, not the
 * full CACHE_TTL_SECONDS: reading random ids must not fill the cache for long.
 */
const read = (app: TestApp, id: string) => app.gql<{ product: { id: string } | null }>('query($id: ID!) { product(id: $id) { id } }', { id });

describe('absent entries on Redis', () => {
  let app: TestApp;
  let configured: TestApp;
  beforeAll(async () => {
    app = await startTestApp(QUIET_BACKGROUND);
    configured = await startTestApp({ ...QUIET_BACKGROUND, CACHE_TTL_SECONDS: '600', CACHE_ABSENT_TTL_SECONDS: '7' });
  });
  afterAll(async () => {
    await app?.close();
    await configured?.close();
  });

  it('live 30 s by default, while rows live CACHE_TTL_SECONDS', async () => {
    const [present] = (await insertProducts(app.running.deps.db.knex, 1)) as [string];
    const missing = newId();
    expect(dataOf(await read(app, missing)).product).toBeNull();
    expect(dataOf(await read(app, present)).product?.id).toBe(present);
    await app.running.deps.cache.idle();
    const absentKey = `${app.prefix}:{Product:${missing}}`;
    const absentTtl = await app.redis.pttl(absentKey);
    expect(absentTtl).toBeGreaterThan(0);
    expect(absentTtl).toBeLessThanOrEqual(30_000);
    const envelope = parseEnvelope((await app.redis.get(absentKey)) as string);
    expect(envelope).toMatchObject({ v: 0, data: null });
    // The logical expiry (early refresh) ends with the key.
    expect((envelope?.exp ?? 0) - Date.parse(envelope?.written_at ?? '')).toBe(30_000);
    expect(await app.redis.pttl(`${app.prefix}:{Product:${present}}`)).toBeGreaterThan(30_000);
  });

  it('follow CACHE_ABSENT_TTL_SECONDS', async () => {
    const missing = newId();
    expect(dataOf(await read(configured, missing)).product).toBeNull();
    await configured.running.deps.cache.idle();
    const ttl = await configured.redis.pttl(`${configured.prefix}:{Product:${missing}}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(7_000);
  });
});

describe('absent entries in the in-process store', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ...QUIET_BACKGROUND, REDIS_URL: '', CACHE_ABSENT_TTL_SECONDS: '9' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('live CACHE_ABSENT_TTL_SECONDS there too', async () => {
    const store = app.running.deps.store as MemoryStore;
    expect(store.kind).toBe('memory');
    const missing = newId();
    expect(dataOf(await read(app, missing)).product).toBeNull();
    await app.running.deps.cache.idle();
    const ttl = store.pttl(`${app.prefix}:{Product:${missing}}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(9_000);
  });
});

describe('a lookup of a value that does not exist', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(QUIET_BACKGROUND);
  });
  afterAll(async () => {
    await app?.close();
  });

  const bySku = (sku: string) =>
    app.gql<{ productBySku: { id: string; sku: string } | null }>('query($s: String!) { productBySku(sku: $s) { id sku } }', { s: sku });
  /** What one call cost the engine: lease waits and source loads, counted, not timed. */
  async function costOf(call: () => Promise<unknown>): Promise<{ leaseWaits: number; sourceLoads: number }> {
    const { counters } = app.running.deps.cache;
    await app.running.deps.cache.idle();
    const before = { leaseWaits: counters.leaseWaits, sourceLoads: counters.sourceLoads };
    await call();
    await app.running.deps.cache.idle();
    return { leaseWaits: counters.leaseWaits - before.leaseWaits, sourceLoads: counters.sourceLoads - before.sourceLoads };
  }

  it('is answered the second time from the cache, without waiting for the first lookup\'s lease', async () => {
    const sku = uniqueSku('NOPE');
    const first = await costOf(async () => expect(dataOf(await bySku(sku)).productBySku).toBeNull());
    expect(first).toEqual({ leaseWaits: 0, sourceLoads: 1 });
    // The first lookup filled "no such value" and so gave its lease up: the second neither waits nor loads.
    const second = await costOf(async () => expect(dataOf(await bySku(sku)).productBySku).toBeNull());
    expect(second).toEqual({ leaseWaits: 0, sourceLoads: 0 });
    const hint = parseEnvelope((await app.redis.get(`${app.prefix}:{Product.sku:${sku}}`)) as string);
    expect(hint).toMatchObject({ v: 0, data: null });
    expect(await app.redis.exists(`${app.prefix}:{Product.sku:${sku}}:lease`)).toBe(0);
  });

  it('is found at once after a createProduct with that value', async () => {
    const sku = uniqueSku('LATER');
    expect(dataOf(await bySku(sku)).productBySku).toBeNull();
    await app.running.deps.cache.idle();
    const { createProduct } = dataOf(
      await app.gql<{ createProduct: { id: string } }>('mutation($s: String!) { createProduct(input: { sku: $s, name: "Later", priceCents: 1, stock: 1 }) { id } }', { s: sku }),
    );
    expect(dataOf(await bySku(sku)).productBySku).toEqual({ id: createProduct.id, sku });
  });

  it('whose load failed gives its lease back: the next reader loads at once instead of waiting it out', async () => {
    const { cache } = app.running.deps;
    let failing = true;
    const reader = new ReadThrough<{ id: string }>({
      cache,
      keyFor: (value) => `${app.prefix}:{Flaky:${value}}`,
      load: async () => {
        if (failing) throw new Error('the database said no');
        return new Map();
      },
    });
    const value = uniqueSku('FLAKY');
    const [failed] = await reader.loadMany([value]);
    expect(failed).toBeInstanceOf(Error);
    failing = false;
    const cost = await costOf(async () => expect(await reader.loadMany([value])).toEqual([null]));
    expect(cost).toEqual({ leaseWaits: 0, sourceLoads: 1 });
  });
});
