import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { dataOf, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';
import { createScratchDatabase } from '../helpers/scratch-database.js';

// CACHE_MODE=off: the same server on a store that keeps nothing, the benchmark's baseline.
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ CACHE_MODE: 'off', DEBUG_EXTENSIONS: 'true' });
});
afterAll(async () => {
  await app?.close();
});

const debug = { 'x-freshgraph-debug': '1' };

describe('CACHE_MODE=off', () => {
  it('serves every read from Postgres, never asks Redis, and writes no key and no outbox row', async () => {
    const created = dataOf(
      await app.gql<{ createProduct: { id: string } }>(`mutation($i: NewProduct!) { createProduct(input: $i) { id } }`, {
        i: { sku: uniqueSku('OFF'), name: 'Uncached', priceCents: 5, stock: 5 },
      }),
    ).createProduct;
    dataOf(await app.gql(`mutation($id: ID!) { adjustStock(id: $id, delta: 2) { version } }`, { id: created.id }));

    for (let i = 0; i < 2; i++) {
      const res = await app.gql<{ products: { version: number; stock: number }[] }>(
        `query($ids: [ID!]!) { products(ids: $ids) { version stock } }`,
        { ids: [created.id, created.id] },
        debug,
      );
      expect(dataOf(res).products).toEqual([
        { version: 2, stock: 7 },
        { version: 2, stock: 7 },
      ]);
      expect(res.extensions?.['cache']).toEqual({ hits: 0, misses: 1, redisRoundTrips: 0, sqlStatements: 1 });
    }
    expect(await app.redis.keys(`${app.prefix}:*`)).toEqual([]);
    const outbox = await app.running.deps.db.knex('cache_outbox').where({ entity_id: created.id }).count({ n: '*' });
    expect(Number(outbox[0]?.n)).toBe(0);
  });

  it('prunes outbox rows too old to repair anything, which no repair worker drains without a cache, and keeps the young ones', async () => {
    // A database of its own: another file's instances (with a cache) would replay these rows first.
    const scratch = await createScratchDatabase('off');
    const off = await startTestApp({ CACHE_MODE: 'off', DATABASE_URL: scratch.url });
    try {
      const { knex } = off.running.deps.db;
      const [old, young] = [newId(), newId()];
      // The triggers record another program's changes even here: another instance may keep a cache.
      await knex('cache_outbox').insert([
        { entity: 'Product', entity_id: old, version: 1, recorded_by: 'trigger', created_at: knex.raw("now() - interval '1 hour'") },
        { entity: 'Product', entity_id: young, version: 1, recorded_by: 'trigger' },
      ]);
      expect(await off.running.deps.pruner?.runOnce()).toBe(1);
      const left = ((await knex('cache_outbox').select('entity_id')) as { entity_id: string }[]).map((r) => r.entity_id);
      expect(left).toEqual([young]);
    } finally {
      await off.close();
      await scratch.drop();
    }
  });

  it('is ready without a cache check', async () => {
    const res = await fetch(new URL('/readyz', app.url));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { checks: Record<string, string> }).checks).not.toHaveProperty('cache');
  });
});
