import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnvelope, parseEnvelope, serializeEnvelope } from '../../src/cache/envelope.js';
import { RedisStore } from '../../src/cache/redis-store.js';
import { TrackingStore } from '../../src/cache/tracking-store.js';
import { dataOf, deleteByPrefix, startTestApp, uniquePrefix, type TestApp } from '../helpers/app.js';
import { countRedisRoundTrips } from '../helpers/counting.js';
import { runFreshnessLoad } from '../helpers/freshness-load.js';
import { insertProducts } from '../helpers/products.js';
import { REDIS_URL } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
const prefix = uniquePrefix();
const epochKey = `${prefix}:epoch`;
let inspector: Redis;
let slow: TcpProxy;
let slower: TcpProxy;
const opened: TrackingStore[] = [];

/** `invalidationUrl`: a proxy that slows the invalidation connection down, so that a read without the barrier would overtake it. */
async function trackingStore(maxBytes = 16 * 1024 * 1024, invalidationUrl = REDIS_URL): Promise<TrackingStore> {
  const store = new TrackingStore({ inner: new RedisStore({ url: REDIS_URL, epochKey }), url: invalidationUrl, maxBytes, flushOn: [epochKey] });
  opened.push(store);
  await store.connect();
  await store.whenOn(5_000);
  return store;
}

const envelopeOf = (v: number) => serializeEnvelope(createEnvelope(v, { v }, Date.now(), 60_000, 1));
const versionOf = (raw: string | null | undefined) => (typeof raw === 'string' ? parseEnvelope(raw)?.v : undefined);
const keysOf = (label: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}:{${label}:${i}}`);

beforeAll(async () => {
  inspector = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await inspector.connect();
  slow = await TcpProxy.start(Number(new URL(REDIS_URL).port || 6379));
  slow.delay(15);
  slower = await TcpProxy.start(Number(new URL(REDIS_URL).port || 6379));
  slower.delay(100);
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await slow?.close();
  await slower?.close();
  await deleteByPrefix(inspector, prefix);
  inspector.disconnect();
});

describe('the local copy (CLIENT TRACKING and the read barrier)', () => {
  it('serves a write by another process to the next read that begins after it was acknowledged, every time', async () => {
    // Its invalidations arrive 100 ms late: only the barrier keeps the copy from answering before they do.
    const store = await trackingStore(16 * 1024 * 1024, slower.url);
    const [key] = keysOf('cli', 1) as [string];
    const { port, hostname } = new URL(REDIS_URL);
    for (let v = 1; v <= 15; v++) {
      // Warm: the second read is answered from the copy.
      await store.read([key]);
      await store.read([key]);
      // redis-cli is another process on another connection; its SET is acknowledged when it exits.
      await run('redis-cli', ['-h', hostname, '-p', port || '6379', 'SET', key, envelopeOf(v), 'PX', '60000']);
      expect(versionOf((await store.read([key]))[0])).toBe(v);
    }
    expect(store.state.stats.hits).toBeGreaterThanOrEqual(15);
    expect(store.state.stats.invalidations).toBeGreaterThanOrEqual(14);
  });

  it('never serves an older version than acknowledged when two instances write and read the same keys concurrently', async () => {
    const [a, b] = [await trackingStore(16 * 1024 * 1024, slow.url), await trackingStore()];
    const keys = keysOf('pair', 20);
    const result = await runFreshnessLoad({ writers: [a, b], readers: [a, b], keys, writes: 3000, seed: 7 });
    expect(result.stale).toEqual([]);
    expect(result.readErrors + result.writeErrors).toBe(0);
    expect(result.reads).toBeGreaterThan(1000);
    // The copy answered, and was invalidated by the other instance's writes. Under 3000 writes to 20 keys a busy
    // machine may interleave every read with a write of its key, so the copy is also read once the writes stopped.
    for (const store of [a, b]) {
      await store.read(keys);
      await store.read(keys);
      expect(store.state.stats.hits).toBeGreaterThan(0);
      expect(store.state.stats.invalidations).toBeGreaterThan(0);
    }
  });

  it('answers a warm batch with a PING on the invalidation connection, without an MGET', async () => {
    const store = await trackingStore();
    const keys = keysOf('warm', 100);
    await store.apply({ writes: keys.map((key, i) => ({ key, value: envelopeOf(i + 1), version: i + 1, ttlMs: 60_000 })) });
    // Until the copy holds them all: Redis' own invalidations of that write may overtake the first reads.
    const cold = await waitFor('the copy holds the batch', () => store.read(keys), () => store.state.entries === keys.length);
    const reading = countRedisRoundTrips(store.client);
    const barrier = countRedisRoundTrips(store.invalidations);
    const warm = await Promise.all(Array.from({ length: 8 }, () => store.read(keys)));
    reading.stop();
    barrier.stop();
    for (const values of warm) expect(values).toEqual(cold);
    expect(reading.count).toBe(0);
    // Eight concurrent readers of one tick share one barrier.
    expect(barrier.count).toBe(1);
  });

  it('empties and turns off the copy when the invalidation connection is killed, and turns it on again with the new id', async () => {
    const [a, b] = [await trackingStore(), await trackingStore()];
    const keys = keysOf('kill', 5);
    await b.apply({ writes: keys.map((key) => ({ key, value: envelopeOf(1), version: 1, ttlMs: 60_000 })) });
    await a.read(keys);
    await a.read(keys);
    expect(a.state.entries).toBe(5);
    const oldId = a.state.redirectId;
    expect(oldId).toBeTypeOf('number');
    const closed = new Promise((resolve) => a.invalidations.once('close', resolve));
    await inspector.call('CLIENT', 'KILL', 'ID', String(oldId));
    await closed;
    expect(a.state).toMatchObject({ on: false, entries: 0 });
    // While it is off, writes of the other instance are read from Redis.
    await b.apply({ writes: keys.map((key) => ({ key, value: envelopeOf(2), version: 2, ttlMs: 60_000 })) });
    expect((await a.read(keys)).map(versionOf)).toEqual([2, 2, 2, 2, 2]);
    await a.whenOn(10_000);
    const newId = a.state.redirectId;
    expect(newId).not.toBe(oldId);
    // Tracking of the reading connection now goes to the new connection.
    const info = (await a.client.call('CLIENT', 'TRACKINGINFO')) as unknown[];
    expect(info[info.indexOf('redirect') + 1]).toBe(newId);
    await a.read(keys);
    await b.apply({ writes: keys.map((key) => ({ key, value: envelopeOf(3), version: 3, ttlMs: 60_000 })) });
    expect((await a.read(keys)).map(versionOf)).toEqual([3, 3, 3, 3, 3]);
  });

  it('stays within its byte bound, evicting what was read least recently', async () => {
    const store = await trackingStore(20_000);
    const keys = keysOf('bound', 200);
    await store.apply({ writes: keys.map((key) => ({ key, value: envelopeOf(1), version: 1, ttlMs: 60_000 })) });
    for (const key of keys) await store.read([key]);
    expect(store.state.bytes).toBeLessThanOrEqual(20_000);
    expect(store.state.entries).toBeGreaterThan(0);
    expect(store.state.stats.evictions).toBeGreaterThan(0);
  });
});

describe('the server with the local copy on', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const shared = uniquePrefix();
    a = await startTestApp({ CACHE_PREFIX: shared, CACHE_LOCAL_BYTES: '67108864' });
    b = await startTestApp({ CACHE_PREFIX: shared, CACHE_LOCAL_BYTES: '67108864' });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('serves a mutation acknowledged by another instance to every read that begins after it', async () => {
    const ids = await insertProducts(a.running.deps.db.knex, 6, 1_000_000);
    const acked = new Map<string, number>();
    const stale: string[] = [];
    let writes = 0;
    const deadline = Date.now() + 30_000;
    const going = () => writes < 150 && Date.now() < deadline;
    const writer = async (app: TestApp, offset: number) => {
      for (let i = offset; going(); i++) {
        const id = ids[i % ids.length] as string;
        const r = await app.gql<{ adjustStock: { version: number } }>('mutation($id: ID!) { adjustStock(id: $id, delta: 1) { version } }', { id });
        const version = dataOf(r).adjustStock.version;
        acked.set(id, Math.max(acked.get(id) ?? 0, version));
        writes++;
      }
    };
    const reader = async (app: TestApp) => {
      while (going()) {
        const floors = new Map(ids.map((id) => [id, acked.get(id) ?? 0]));
        const r = await app.gql<{ products: { id: string; version: number }[] }>('query($ids: [ID!]!) { products(ids: $ids) { id version } }', { ids });
        for (const p of dataOf(r).products) if (p.version < (floors.get(p.id) ?? 0)) stale.push(`${p.id}: ${p.version} < ${floors.get(p.id)}`);
      }
    };
    await Promise.all([writer(b, 0), writer(b, 3), writer(a, 1), reader(a), reader(a), reader(a), reader(b), reader(b)]);
    expect(stale).toEqual([]);
    const metrics = await (await fetch(new URL('/metrics', a.url))).text();
    const hits = Number(/^freshgraph_cache_local_hits_total (\d+)/m.exec(metrics)?.[1]);
    expect(hits).toBeGreaterThan(0);
    expect(metrics).toMatch(/^freshgraph_cache_local_on 1$/m);
  });
});

