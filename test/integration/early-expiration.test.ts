import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheEngine } from '../../src/cache/engine.js';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { createKeySpace } from '../../src/cache/keys.js';
import { ReadThrough } from '../../src/cache/read-through.js';
import { versionedByIds } from '../../src/db/entity-sql.js';
import { product, type ProductRow } from '../../src/entities/product.js';
import { adjustStock } from '../../src/services/products.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { insertProducts } from '../helpers/products.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe('probabilistic early expiration (XFetch) on real Redis', () => {
  it('refreshes a key about to expire in the background, at the same version, extending it', async () => {
    const { deps } = app.running;
    const ttlSeconds = 60;
    // A clock of the test's own, but not behind the wall clock: the store trusts values written since its Redis epoch began.
    let clock = Date.now();
    let dice = 1;
    const cache = new CacheEngine({
      store: deps.store,
      keys: createKeySpace(app.prefix),
      ttlSeconds,
      beta: 1,
      logger: { debug() {}, warn() {}, error() {} },
      now: () => clock,
      random: () => dice,
    });
    const reader = new ReadThrough<ProductRow>({
      cache,
      keyFor: (id) => cache.keys.entity('Product', id),
      load: (ids) => versionedByIds(deps.db.knex, product, ids),
    });
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    const key = cache.keys.entity('Product', id);

    await reader.loadMany([id]);
    await cache.idle();
    expect(cache.counters.sourceLoads).toBe(1);
    const first = parseEnvelope((await app.redis.get(key)) as string);
    expect(first).toMatchObject({ v: 1, exp: clock + ttlSeconds * 1000 });

    // Far from expiry nothing happens, even on the unluckiest roll.
    clock += 30_000;
    dice = 1e-300;
    await reader.loadMany([id]);
    await cache.idle();
    expect(cache.counters.sourceLoads).toBe(1);

    // 50 ms before expiry, a lucky roll refreshes; the reader is still served the cached value at once.
    clock = (first?.exp ?? 0) - 50;
    dice = 1;
    await reader.loadMany([id]);
    await cache.idle();
    expect(cache.counters.earlyRefreshes).toBe(0);
    dice = 1e-300;
    const [served] = await reader.loadMany([id]);
    expect((served as ProductRow).version).toBe(1);
    await cache.idle();
    expect(cache.counters.earlyRefreshes).toBe(1);
    expect(cache.counters.sourceLoads).toBe(2);
    expect(cache.counters.casRefreshed).toBe(1);
    const refreshed = parseEnvelope((await app.redis.get(key)) as string);
    expect(refreshed).toMatchObject({ v: 1, exp: clock + ttlSeconds * 1000 });
    expect(await app.redis.pttl(key)).toBeGreaterThan((ttlSeconds - 5) * 1000);
  });

  it('a refresh never lowers a version written meanwhile', async () => {
    const { deps } = app.running;
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    await adjustStock(deps.writes, id, 1);
    await adjustStock(deps.writes, id, 1);
    const key = deps.cache.keys.entity('Product', id);
    // An older envelope, as a lagging refresh would bring it (holding a lease).
    const token = deps.cache.newToken();
    expect(await deps.cache.acquireLeases([key], token)).toEqual([true]);
    const outcomes = await deps.cache.fill([{ key, version: 1, data: null }], 1, token);
    expect(outcomes).toEqual(['rejected']);
    expect(parseEnvelope((await app.redis.get(key)) as string)?.v).toBe(3);
  });
});
