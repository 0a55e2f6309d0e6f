import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphql, startTestApp, uniquePrefix, type TestApp } from '../helpers/app.js';
import { countSql } from '../helpers/counting.js';
import { insertProducts } from '../helpers/products.js';

let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  // Two instances sharing Postgres, Redis and the key space, as in production.
  const prefix = uniquePrefix();
  a = await startTestApp({ CACHE_PREFIX: prefix });
  b = await startTestApp({ CACHE_PREFIX: prefix });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

describe('stampede', () => {
  it('1,000 concurrent reads of a hot key that just expired cost at most 2 database loads across two instances', { timeout: 120_000 }, async () => {
    const { knex } = a.running.deps.db;
    const [id] = (await insertProducts(knex, 1)) as [string];
    const key = `${a.prefix}:{Product:${id}}`;
    const query = `query($id: ID!) { product(id: $id) { id version } }`;
    await postGraphql(a.url, query, { id });
    await a.running.deps.cache.idle();
    expect(await a.redis.exists(key)).toBe(1);

    const loads = [countSql(a.running.deps.db.knex, (s) => /from "products"/.test(s)), countSql(b.running.deps.db.knex, (s) => /from "products"/.test(s))];
    await a.redis.del(key); // the hot key expires
    const responses = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => postGraphql<{ product: { id: string; version: number } }>(i % 2 === 0 ? a.url : b.url, query, { id })),
    );
    await Promise.all([a.running.deps.cache.idle(), b.running.deps.cache.idle()]);
    for (const l of loads) l.stop();

    expect(responses.filter((r) => r.errors !== undefined)).toEqual([]);
    expect(responses.every((r) => r.data?.product.id === id && r.data.product.version === 1)).toBe(true);
    const total = (loads[0]?.count ?? 0) + (loads[1]?.count ?? 0);
    console.log(`stampede: ${total} database load(s) for 1000 reads; lease waits ${a.running.deps.cache.counters.leaseWaits + b.running.deps.cache.counters.leaseWaits}`);
    expect(total).toBeGreaterThanOrEqual(1);
    expect(total).toBeLessThanOrEqual(2);
    expect(await a.redis.exists(key)).toBe(1);
  });
});
