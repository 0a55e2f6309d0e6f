import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterStore } from '../../src/cache/cluster-store.js';
import { createEnvelope, parseEnvelope, serializeEnvelope } from '../../src/cache/envelope.js';
import { MemoryStore } from '../../src/cache/memory-store.js';
import { RedisStore } from '../../src/cache/redis-store.js';
import type { CacheStore, CasWrite } from '../../src/cache/store.js';
import { TrackingStore } from '../../src/cache/tracking-store.js';
import { deleteByPrefix, uniquePrefix } from '../helpers/app.js';
import { countClusterRoundTrips, countRedisRoundTrips } from '../helpers/counting.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { REDIS_URL } from '../helpers/services.js';

/** What the suite needs from an implementation beyond the contract itself. */
interface Harness {
  readonly store: CacheStore;
  rawSet(key: string, value: string, ttlMs?: number): Promise<void>;
  pttl(key: string): Promise<number>;
  /** Removes a key as an eviction or expiry would. */
  evict(key: string): Promise<void>;
  /** Network round trips made while `fn` runs (on a cluster: per master, reached in parallel); undefined where there is no network. */
  roundTrips?(fn: () => Promise<unknown>): Promise<number>;
  /** Removes the suite's keys from a store that outlives it. */
  deleteByPrefix?(prefix: string): Promise<void>;
  close(): Promise<void>;
}

const implementations: [string, () => Promise<Harness>][] = [
  [
    'RedisStore (real Redis)',
    async () => {
      const prefix = uniquePrefix();
      // As the server opens it: with its epoch, read along with every MGET.
      const store = new RedisStore({ url: REDIS_URL, epochKey: `${prefix}:epoch` });
      await store.connect();
      return {
        store,
        rawSet: async (key, value, ttlMs = 60_000) => void (await store.client.set(key, value, 'PX', ttlMs)),
        pttl: (key) => store.client.pttl(key),
        evict: async (key) => void (await store.client.del(key)),
        roundTrips: async (fn) => {
          const counter = countRedisRoundTrips(store.client);
          try {
            await fn();
            return counter.count;
          } finally {
            counter.stop();
          }
        },
        deleteByPrefix: (p) => deleteByPrefix(store.client, p),
        close: async () => {
          await deleteByPrefix(store.client, prefix);
          await store.close();
        },
      };
    },
  ],
  [
    'RedisStore with the local copy (CLIENT TRACKING, read barrier)',
    async () => {
      const prefix = uniquePrefix();
      const inner = new RedisStore({ url: REDIS_URL, epochKey: `${prefix}:epoch` });
      const store = new TrackingStore({ inner, url: REDIS_URL, maxBytes: 1024 * 1024, flushOn: [`${prefix}:epoch`] });
      await store.connect();
      await store.whenOn(5_000);
      return {
        store,
        // On the tracked connection itself, like any other client's write: Redis invalidates the copy.
        rawSet: async (key, value, ttlMs = 60_000) => void (await store.client.set(key, value, 'PX', ttlMs)),
        pttl: (key) => store.client.pttl(key),
        evict: async (key) => void (await store.client.del(key)),
        // Both connections: the reading one and the invalidation one that carries the barrier.
        roundTrips: async (fn) => {
          const counters = [countRedisRoundTrips(store.client), countRedisRoundTrips(store.invalidations)];
          try {
            await fn();
            return counters.reduce((sum, c) => sum + c.count, 0);
          } finally {
            counters.forEach((c) => c.stop());
          }
        },
        deleteByPrefix: (p) => deleteByPrefix(store.client, p),
        close: async () => {
          await deleteByPrefix(store.client, prefix);
          await store.close();
        },
      };
    },
  ],
  [
    'ClusterStore (real Redis Cluster: 3 masters, 3 replicas)',
    async () => {
      const cluster = await RedisCluster.start();
      const store = new ClusterStore({ nodes: cluster.seeds.slice(0, 2).map(address), commandTimeoutMs: 5_000, waitTimeoutMs: 2_000 });
      try {
        await store.connect();
      } catch (err) {
        await store.close();
        await cluster.stop();
        throw err;
      }
      return {
        store,
        rawSet: async (key, value, ttlMs = 60_000) => void (await store.reader.set(key, value, 'PX', ttlMs)),
        pttl: (key) => store.reader.pttl(key),
        evict: async (key) => void (await store.reader.del(key)),
        roundTrips: async (fn) => {
          const counter = countClusterRoundTrips(store.reader, store.writer);
          try {
            await fn();
            return counter.max;
          } finally {
            counter.stop();
          }
        },
        close: async () => {
          await store.close();
          await cluster.stop();
        },
      };
    },
  ],
  [
    'MemoryStore',
    async () => {
      const store = new MemoryStore();
      return {
        store,
        rawSet: async (key, value, ttlMs = 60_000) => store.rawSet(key, value, ttlMs),
        pttl: async (key) => store.pttl(key),
        evict: async (key) => store.evict(key),
        close: () => store.close(),
      };
    },
  ],
];

function address(seed: string): { host: string; port: number } {
  const [host = '', port = ''] = seed.split(':');
  return { host, port: Number(port) };
}

describe.each(implementations)('cache store contract: %s', (_name, create) => {
  let h: Harness;
  const prefix = uniquePrefix();
  let n = 0;
  const key = () => `${prefix}:{T:${n++}}`;
  const envelope = (v: number, data: unknown = { v }) => serializeEnvelope(createEnvelope(v, data, Date.now(), 60_000, 3));
  const cas = (k: string, v: number, ttlMs = 60_000, data: unknown = { v }): CasWrite => ({
    key: k,
    value: envelope(v, data),
    version: v,
    ttlMs,
  });
  const storedVersion = async (k: string) => {
    const [raw] = await h.store.read([k]);
    // Read again: a store with a local copy answers this one from it, and must say the same.
    expect(await h.store.read([k])).toEqual([raw]);
    return typeof raw === 'string' ? parseEnvelope(raw)?.v : undefined;
  };

  beforeAll(async () => {
    h = await create();
  });
  afterAll(async () => {
    await h?.deleteByPrefix?.(prefix);
    await h?.close();
  });

  it('writes a missing key', async () => {
    const k = key();
    expect(await h.store.apply({ writes: [cas(k, 1)] })).toEqual(['written']);
    expect(await storedVersion(k)).toBe(1);
  });

  it('replaces a lower version', async () => {
    const k = key();
    await h.store.apply({ writes: [cas(k, 3)] });
    expect(await h.store.apply({ writes: [cas(k, 4)] })).toEqual(['written']);
    expect(await storedVersion(k)).toBe(4);
  });

  it('rejects a lower version and keeps the higher one', async () => {
    const k = key();
    await h.store.apply({ writes: [cas(k, 7)] });
    expect(await h.store.apply({ writes: [cas(k, 6)] })).toEqual(['rejected']);
    expect(await storedVersion(k)).toBe(7);
  });

  it('rewrites an equal version and extends its TTL', async () => {
    const k = key();
    await h.store.apply({ writes: [cas(k, 2, 1_000)] });
    expect(await h.store.apply({ writes: [cas(k, 2, 120_000)] })).toEqual(['refreshed']);
    expect(await h.pttl(k)).toBeGreaterThan(60_000);
  });

  it('keeps a tombstone against the deleted row version, and yields it to nothing lower', async () => {
    const k = key();
    await h.store.apply({ writes: [cas(k, 5)] });
    expect(await h.store.apply({ writes: [cas(k, 6, 60_000, null)] })).toEqual(['written']);
    expect(await h.store.apply({ writes: [cas(k, 5)] })).toEqual(['rejected']);
    const [raw] = await h.store.read([k]);
    expect(parseEnvelope(raw as string)).toMatchObject({ v: 6, data: null });
  });

  it.each([
    ['plain text', 'not json'],
    ['JSON without v', '{"data":{}}'],
    ['v as a string', '{"v":"9","data":{},"written_at":"x","delta":1,"exp":1}'],
    ['negative v', '{"v":-1,"data":{},"written_at":"x","delta":1,"exp":1}'],
    ['fractional v', '{"v":1.5,"data":{},"written_at":"x","delta":1,"exp":1}'],
    ['missing expiry fields', '{"v":99,"data":{}}'],
    ['data that is a number', '{"v":99,"data":5,"written_at":"x","delta":1,"exp":1}'],
    ['a JSON array', '[99]'],
    ['truncated JSON', '{"v":99,"data":{"a":'],
  ])('treats %s as no version: any write replaces it', async (_label, garbage) => {
    const k = key();
    await h.rawSet(k, garbage);
    expect(await h.store.apply({ writes: [cas(k, 1)] })).toEqual(['written']);
    expect(await storedVersion(k)).toBe(1);
  });

  it('sets a TTL on every write, and the key is gone after it', async () => {
    const k1 = key();
    const k2 = key();
    await h.store.apply({ writes: [cas(k1, 1, 60_000), cas(k2, 1, 80)] });
    const ttl = await h.pttl(k1);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(await h.store.read([k2])).toEqual([null]);
    // An expired key is missing, so a lower version than before may land again.
    expect(await h.store.apply({ writes: [cas(k2, 1)] })).toEqual(['written']);
  });

  it('reads a batch in key order, with null where missing', async () => {
    const ks = [key(), key(), key(), key()];
    await h.store.apply({ writes: [cas(ks[2] as string, 3), cas(ks[0] as string, 1)] });
    const raws = await h.store.read(ks);
    expect(raws.map((r) => (typeof r === 'string' ? parseEnvelope(r)?.v : r))).toEqual([1, null, 3, null]);
    expect(await h.store.read([])).toEqual([]);
  });

  it('applies a batch of writes and deletes with outcomes in write order', async () => {
    const [a, b, c, gone] = [key(), key(), key(), key()];
    await h.store.apply({ writes: [cas(b, 9), cas(gone, 1)] });
    const outcomes = await h.store.apply({ writes: [cas(a, 1), cas(b, 2), cas(c, 1)], deletes: [gone] });
    expect(outcomes).toEqual(['written', 'rejected', 'written']);
    expect(await h.store.read([gone])).toEqual([null]);
  });

  it('sends a batch of 50 CAS writes, and a 100-key read, in one round trip each', async (ctx) => {
    if (!h.roundTrips) return ctx.skip('no network round trips in the in-process store');
    const writes = Array.from({ length: 50 }, () => cas(key(), 1));
    await h.store.read(['warm-up']); // the connection is ready before counting
    expect(await h.roundTrips(() => h.store.apply({ writes, deletes: [key()] }))).toBe(1);
    expect(await h.roundTrips(() => h.store.read(writes.map((w) => w.key).concat(writes.map((w) => w.key))))).toBe(1);
    expect((await h.store.read(writes.map((w) => w.key))).every((r) => typeof r === 'string')).toBe(true);
    expect(await h.roundTrips(() => h.store.acquireLeases(writes.map((w) => w.key), { token: 't', ttlMs: 1000 }))).toBe(1);
    expect(await h.roundTrips(() => h.store.fill([cas(key(), 1)], 't'))).toBe(1);
  });

  describe('fill leases', () => {
    const lease = (token: string, ttlMs = 5_000) => ({ token, ttlMs });

    it('grants each lease to the first reader only, in one round trip for many keys', async () => {
      const [a, b] = [key(), key()];
      expect(await h.store.acquireLeases([a, b], lease('first'))).toEqual([true, true]);
      expect(await h.store.acquireLeases([b, a, key()], lease('second'))).toEqual([false, false, true]);
      expect(await h.store.read([a])).toEqual([null]); // a lease is not a value
    });

    it('lets the lease holder fill, and releases the lease', async () => {
      const k = key();
      await h.store.acquireLeases([k], lease('a'));
      expect(await h.store.fill([cas(k, 3)], 'a')).toEqual(['written']);
      expect(await storedVersion(k)).toBe(3);
      expect(await h.store.acquireLeases([k], lease('b'))).toEqual([true]);
    });

    it('refuses a fill from a reader that does not hold the lease', async () => {
      const k = key();
      await h.store.acquireLeases([k], lease('a'));
      expect(await h.store.fill([cas(k, 3)], 'b')).toEqual(['lease-lost']);
      expect(await h.store.read([k])).toEqual([null]);
      expect(await h.store.fill([cas(key(), 1)], 'nobody')).toEqual(['lease-lost']);
    });

    it('a write-through cancels the lease: the older fill cannot land even after the newer value is evicted', async () => {
      const k = key();
      await h.store.acquireLeases([k], lease('slow-reader')); // the reader misses and will load version 1
      await h.store.apply({ writes: [cas(k, 2)] }); // a mutation commits version 2 and writes it
      await h.evict(k); // ...which is then evicted
      expect(await h.store.fill([cas(k, 1)], 'slow-reader')).toEqual(['lease-lost']);
      expect(await h.store.read([k])).toEqual([null]);
    });

    it('expires a lease after its TTL, so a crashed reader blocks nobody for long', async () => {
      const k = key();
      // Long enough that a busy machine still asks again within it, short enough to wait out.
      await h.store.acquireLeases([k], lease('crashed', 1_000));
      expect(await h.store.acquireLeases([k], lease('b'))).toEqual([false]);
      await new Promise((r) => setTimeout(r, 1_100));
      expect(await h.store.acquireLeases([k], lease('b'))).toEqual([true]);
      expect(await h.store.fill([cas(k, 1)], 'crashed')).toEqual(['lease-lost']);
    });

    it('takes leases over present values on request (early refresh) and still guards by version', async () => {
      const k = key();
      await h.store.apply({ writes: [cas(k, 5)] });
      expect(await h.store.acquireLeases([k], lease('refresher'))).toEqual([true]);
      expect(await h.store.acquireLeases([k], lease('other'))).toEqual([false]);
      expect(await h.store.fill([cas(k, 5, 120_000)], 'refresher')).toEqual(['refreshed']);
      await h.store.acquireLeases([k], lease('lagging'));
      expect(await h.store.fill([cas(k, 4)], 'lagging')).toEqual(['rejected']);
    });
  });
});
