import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/cache/redis-store.js';
import { TrackingStore } from '../../src/cache/tracking-store.js';
import { runFreshnessLoad } from '../helpers/freshness-load.js';
import { RedisProcess } from '../helpers/redis-process.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Faults of the local copy against a redis-server of the test's own: its
 * invalidation connection killed under load, and Redis paused (SIGSTOP) under
 * load. Two instances with a local copy each write and read the same keys;
 * no read may return less than what was acknowledged before it began.
 */
let redis: RedisProcess;
let inspector: Redis;
const opened: TrackingStore[] = [];

async function trackingStore(): Promise<TrackingStore> {
  const inner = new RedisStore({ url: redis.url, epochKey: 'lc:epoch', commandTimeoutMs: 300 });
  const store = new TrackingStore({ inner, url: redis.url, maxBytes: 8 * 1024 * 1024, flushOn: ['lc:epoch'], commandTimeoutMs: 300 });
  opened.push(store);
  await store.connect();
  await store.whenOn(5_000);
  return store;
}

const keys = Array.from({ length: 30 }, (_, i) => `lc:{K:${i}}`);

beforeAll(async () => {
  redis = await RedisProcess.start();
  inspector = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  inspector.on('error', () => {});
  await inspector.connect();
}, 60_000);
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  inspector?.disconnect();
  await redis?.stop();
});

describe('the local copy under faults', () => {
  it('finds nothing stale when the invalidation connection is killed again and again under load', async () => {
    const [a, b] = [await trackingStore(), await trackingStore()];
    let kills = 0;
    // Only b writes: a's copy learns of b's writes from Redis alone, so a lost invalidation would show.
    const result = await runFreshnessLoad({
      writers: [b],
      writeLoops: 4,
      readers: [a, b],
      keys,
      writes: 2000,
      maxMs: 40_000,
      seed: 3,
      during: async (progress) => {
        for (let i = 0; i < 6; i++) {
          const victim = a;
          await victim.whenOn(10_000);
          // Let the copy fill again before the next kill.
          const hits = victim.state.stats.hits;
          await waitFor('the copy answers again', async () => victim.state.stats.hits, (h) => h > hits + 50);
          const id = victim.state.redirectId;
          if (id === undefined) continue;
          await inspector.call('CLIENT', 'KILL', 'ID', String(id));
          kills++;
        }
        await waitFor('some load after the last kill', async () => progress.writes, (w) => w > 200);
      },
    });
    expect(kills).toBe(6);
    expect(result.stale).toEqual([]);
    expect(a.state.stats.flushes).toBeGreaterThanOrEqual(6);
    await Promise.all([a.whenOn(10_000), b.whenOn(10_000)]);
  }, 90_000);

  it('finds nothing stale when Redis is paused under load, and answers from the copy again after', async () => {
    const [a, b] = [await trackingStore(), await trackingStore()];
    const result = await runFreshnessLoad({
      writers: [b],
      writeLoops: 4,
      readers: [a, b],
      keys,
      writes: 1500,
      maxMs: 40_000,
      seed: 4,
      during: async (progress) => {
        await waitFor('a warm copy', async () => a.state.stats.hits, (h) => h > 200);
        const before = progress.reads;
        redis.pause();
        try {
          // Long enough that every command in flight times out (300 ms) and the load runs into it.
          await new Promise((r) => setTimeout(r, 1_000));
        } finally {
          redis.resume();
        }
        await waitFor('reads go on after the pause', async () => progress.reads, (r) => r > before + 500);
      },
    });
    expect(result.stale).toEqual([]);
    expect(result.readErrors).toBeGreaterThan(0); // the pause was felt
    const hits = a.state.stats.hits;
    await waitFor('the copy answers after the pause', () => a.read(keys.slice(0, 5)).then(() => a.state.stats.hits), (h) => h > hits);
  }, 90_000);
});
