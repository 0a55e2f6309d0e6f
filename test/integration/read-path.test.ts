import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { versionedByIds } from '../../src/db/entity-sql.js';
import { product } from '../../src/entities/product.js';
import { entityShape } from '../../src/entities/shapes.js';
import { newId } from '../../src/ids.js';
import { dataOf, startTestApp, type TestApp, QUIET_BACKGROUND } from '../helpers/app.js';
import { costCounters } from '../helpers/counting.js';
import { insertProducts } from '../helpers/products.js';
import { waitFor } from '../helpers/wait-for.js';

let app: TestApp;
let ids: string[];

const keyOf = (id: string) => `${app.prefix}:{Product:${id}}`;
const listQuery = 'query($ids: [ID!]!) { products(ids: $ids) { id version stock } }';

beforeAll(async () => {
  // No background repair passes or consistency samples while statements are counted.
  app = await startTestApp(QUIET_BACKGROUND);
  ids = await insertProducts(app.running.deps.db.knex, 100);
});
afterAll(async () => {
  await app?.close();
});
const costs = costCounters(() => app);

describe('read path', () => {
  it('cold products(100 ids): 1 MGET, 1 round trip of fill leases, 1 SELECT, 1 round trip of CAS fills', async () => {
    await app.redis.del(...ids.map(keyOf));
    const res = dataOf(await app.gql<{ products: { id: string }[] }>(listQuery, { ids }));
    expect(res.products.map((p) => p.id)).toEqual(ids);
    await app.running.deps.cache.idle();
    expect(costs.sql.statements).toHaveLength(1);
    expect(costs.sql.statements[0]).toMatch(/^select .* from "products" where "id" = any/);
    expect(costs.redisTrips.count).toBe(3);
    const cached = await app.redis.mget(ids.map(keyOf));
    expect(cached.every((raw) => raw !== null && parseEnvelope(raw)?.v === 1)).toBe(true);
  });

  it('warm products(100 ids): exactly 1 Redis round trip and 0 SQL statements', async () => {
    const res = dataOf(await app.gql<{ products: { id: string }[] }>(listQuery, { ids }));
    expect(res.products).toHaveLength(100);
    await app.running.deps.cache.idle();
    expect(costs.redisTrips.count).toBe(1);
    expect(costs.sql.count).toBe(0);
  });

  it('batches every product field of one request into the same round trip', async () => {
    const query = `query { ${ids.slice(0, 15).map((id, i) => `p${i}: product(id: "${id}") { id }`).join(' ')} }`;
    dataOf(await app.gql(query));
    expect(costs.redisTrips.count).toBe(1);
    expect(costs.sql.count).toBe(0);
  });

  it('caches "no such product" so that repeated reads of a missing id stay off the database', async () => {
    const missing = newId();
    const read = async () => dataOf(await app.gql<{ product: null }>(`query($id: ID!) { product(id: $id) { id } }`, { id: missing })).product;
    expect(await read()).toBeNull();
    await app.running.deps.cache.idle();
    expect(costs.sql.count).toBe(1);
    expect(await read()).toBeNull();
    expect(costs.sql.count).toBe(1);
    expect(parseEnvelope((await app.redis.get(keyOf(missing))) as string)).toMatchObject({ v: 0, data: null });
  });

  it('treats a value that is not an envelope as a miss: served from the database, replaced', async () => {
    const [id] = ids as [string];
    await app.redis.set(keyOf(id), '{"v": "garbage"', 'PX', 60_000);
    const context = app.running.deps.createContext();
    const row = await context.loaders.of(product).load(id);
    expect(row?.version).toBe(1);
    await app.running.deps.cache.idle();
    expect(context.loaders.stats).toMatchObject({ hits: 0, misses: 1, sourceLoads: 1 });
    expect(costs.sql.count).toBe(1);
    expect(parseEnvelope((await app.redis.get(keyOf(id))) as string)?.v).toBe(1);
  });

  it('answers a deleted product from its tombstone, without the database', async () => {
    const [id] = await insertProducts(app.running.deps.db.knex, 1);
    dataOf(await app.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id }));
    expect(parseEnvelope((await app.redis.get(keyOf(id as string))) as string)).toMatchObject({ v: 2, data: null });
    costs.sql.reset();
    const res = dataOf(await app.gql<{ product: null }>(`query($id: ID!) { product(id: $id) { id } }`, { id }));
    expect(res.product).toBeNull();
    expect(costs.sql.count).toBe(0);
  });

  it('shares one database load among concurrent requests that miss the same keys (single flight)', async () => {
    const some = ids.slice(0, 10);
    await app.redis.del(...some.map(keyOf));
    costs.sql.reset();
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => app.gql<{ products: { id: string }[] }>(listQuery, { ids: some })),
    );
    for (const r of responses) expect(dataOf(r).products.map((p) => p.id)).toEqual(some);
    await app.running.deps.cache.idle();
    // 30 requests, each missing all 10: without sharing, 30 loads.
    expect(costs.sql.count).toBeLessThanOrEqual(2);
  });

  it('counts a key that waited for another reader\'s fill once, as a miss, in the request\'s cache stats', async () => {
    const { deps } = app.running;
    const [id] = ids as [string];
    const key = keyOf(id);
    await app.redis.del(key);
    // Another instance took the fill lease and is loading.
    const other = deps.cache.newToken();
    expect(await deps.cache.acquireLeases([key], other)).toEqual([true]);
    const context = deps.createContext();
    const reading = context.loaders.of(product).load(id);
    // The reader has found the lease held, and is reading again while it waits (its MGET, its lease try, one more MGET).
    await waitFor('the reader to wait for the other fill', async () => context.loaders.stats.redisRoundTrips, (trips) => trips >= 3, 10_000, 5);
    const row = [...(await versionedByIds(deps.db.knex, product, [id]))][0];
    await deps.cache.fill([{ key, version: row?.[1].version ?? 0, data: row?.[1].data ?? null, shape: entityShape(product) }], 1, other);
    expect((await reading)?.id).toBe(id);
    expect(context.loaders.stats).toMatchObject({ hits: 0, misses: 1, sourceLoads: 0 });
    expect(context.loaders.stats.redisRoundTrips).toBeGreaterThan(2);
  });
});
