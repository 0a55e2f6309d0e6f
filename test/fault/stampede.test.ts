import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postGraphql, startTestApp, uniquePrefix, type TestApp } from '../helpers/app.js';
import { countSql } from '../helpers/counting.js';
import { insertProducts } from '../helpers/products.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let a: TestApp;
let b: TestApp;
let c: TestApp;
// Between the instances and Postgres, so that a test can make the database slow.
let database: TcpProxy;

beforeAll(async () => {
  const url = new URL(inject('databaseUrl'));
  database = await TcpProxy.start(Number(url.port || 5432));
  url.port = String(database.port);
  // Three instances sharing Postgres, Redis and the key space, as in production.
  const env = { CACHE_PREFIX: uniquePrefix(), DATABASE_URL: url.toString() };
  a = await startTestApp(env);
  b = await startTestApp(env);
  c = await startTestApp(env);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await c?.close();
  await database?.close();
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

  /** 300 concurrent reads of one key that is not cached, spread over the three instances; the database loads, per run. */
  async function stampedes(runs: number): Promise<number[]> {
    const apps = [a, b, c];
    const ids = await insertProducts(a.running.deps.db.knex, runs);
    const query = `query($id: ID!) { product(id: $id) { id version } }`;
    const loadsPerRun: number[] = [];
    for (const id of ids) {
      await Promise.all(apps.map((app) => app.running.deps.cache.idle()));
      expect(await a.redis.exists(`${a.prefix}:{Product:${id}}`)).toBe(0);
      const loads = apps.map((app) => countSql(app.running.deps.db.knex, (s) => /from "products"/.test(s)));
      const responses = await Promise.all(
        Array.from({ length: 300 }, (_, i) => postGraphql<{ product: { id: string; version: number } }>((apps[i % 3] as TestApp).url, query, { id })),
      );
      await Promise.all(apps.map((app) => app.running.deps.cache.idle()));
      for (const l of loads) l.stop();
      expect(responses.filter((r) => r.errors !== undefined)).toEqual([]);
      expect(responses.every((r) => r.data?.product.id === id && r.data.product.version === 1)).toBe(true);
      expect(await a.redis.exists(`${a.prefix}:{Product:${id}}`)).toBe(1);
      loadsPerRun.push(loads.reduce((sum, l) => sum + l.count, 0));
    }
    const counters = apps.map((app) => app.running.deps.cache.counters);
    console.log(
      `stampede over 3 instances: database loads per run ${JSON.stringify(loadsPerRun)}; lease waits ${counters.reduce((n, k) => n + k.leaseWaits, 0)}, fallbacks ${counters.reduce((n, k) => n + k.fallbacks, 0)} (since start)`,
    );
    return loadsPerRun;
  }

  it('300 concurrent reads of one missing key over three instances cost at most 2 database loads, in every one of 12 runs', { timeout: 240_000 }, async () => {
    const loads = await stampedes(12);
    expect(loads.every((n) => n >= 1 && n <= 2), JSON.stringify(loads)).toBe(true);
  });

  it('the same with a slow database (every load takes over half a second): readers wait for the lease holder, they do not load themselves', { timeout: 240_000 }, async () => {
    database.delay(250);
    try {
      const loads = await stampedes(5);
      expect(loads.every((n) => n >= 1 && n <= 2), JSON.stringify(loads)).toBe(true);
    } finally {
      database.delay(0);
    }
  });
});
