import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnvelope, parseEnvelope, serializeEnvelope } from '../../src/cache/envelope.js';
import { MemoryStore } from '../../src/cache/memory-store.js';
import { RedisStore } from '../../src/cache/redis-store.js';
import type { CacheStore, CasWrite } from '../../src/cache/store.js';
import { deleteByPrefix, uniquePrefix } from '../helpers/app.js';
import { countRedisRoundTrips } from '../helpers/counting.js';
import { REDIS_URL } from '../helpers/services.js';

/** What the suite needs from an implementation beyond the contract itself. */
interface Harness {
  readonly store: CacheStore;
  rawSet(key: string, value: string, ttlMs?: number): Promise<void>;
  pttl(key: string): Promise<number>;
  /** Network round trips made while `fn` runs; undefined where there is no network. */
  roundTrips?(fn: () => Promise<unknown>): Promise<number>;
  close(): Promise<void>;
}

const implementations: [string, () => Promise<Harness>][] = [
  [
    'RedisStore (real Redis)',
    async () => {
      const store = new RedisStore({ url: REDIS_URL });
      await store.connect();
      const prefix = uniquePrefix();
      return {
        store,
        rawSet: async (key, value, ttlMs = 60_000) => void (await store.client.set(key, value, 'PX', ttlMs)),
        pttl: (key) => store.client.pttl(key),
        roundTrips: async (fn) => {
          const counter = countRedisRoundTrips(store.client);
          try {
            await fn();
            return counter.count;
          } finally {
            counter.stop();
          }
        },
        close: async () => {
          await deleteByPrefix(store.client, prefix);
          await store.close();
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
        close: () => store.close(),
      };
    },
  ],
];

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
    const [raw] = await h.store.mget([k]);
    return raw === null || raw === undefined ? undefined : parseEnvelope(raw)?.v;
  };

  beforeAll(async () => {
    h = await create();
  });
  afterAll(async () => {
    if (h.roundTrips) await deleteByPrefix((h.store as RedisStore).client, prefix);
    await h.close();
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
    const [raw] = await h.store.mget([k]);
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
    expect(await h.store.mget([k2])).toEqual([null]);
    // An expired key is missing, so a lower version than before may land again.
    expect(await h.store.apply({ writes: [cas(k2, 1)] })).toEqual(['written']);
  });

  it('reads a batch in key order, with null where missing', async () => {
    const ks = [key(), key(), key(), key()];
    await h.store.apply({ writes: [cas(ks[2] as string, 3), cas(ks[0] as string, 1)] });
    const raws = await h.store.mget(ks);
    expect(raws.map((r) => (r === null ? null : parseEnvelope(r)?.v))).toEqual([1, null, 3, null]);
    expect(await h.store.mget([])).toEqual([]);
  });

  it('applies a batch of writes and deletes with outcomes in write order', async () => {
    const [a, b, c, gone] = [key(), key(), key(), key()];
    await h.store.apply({ writes: [cas(b, 9), cas(gone, 1)] });
    const outcomes = await h.store.apply({ writes: [cas(a, 1), cas(b, 2), cas(c, 1)], deletes: [gone] });
    expect(outcomes).toEqual(['written', 'rejected', 'written']);
    expect(await h.store.mget([gone])).toEqual([null]);
  });

  it('sends a batch of 50 CAS writes, and a 100-key read, in one round trip each', async (ctx) => {
    if (!h.roundTrips) return ctx.skip('no network round trips in the in-process store');
    const writes = Array.from({ length: 50 }, () => cas(key(), 1));
    await h.store.mget(['warm-up']); // the connection is ready before counting
    expect(await h.roundTrips(() => h.store.apply({ writes, deletes: [key()] }))).toBe(1);
    expect(await h.roundTrips(() => h.store.mget(writes.map((w) => w.key).concat(writes.map((w) => w.key))))).toBe(1);
    expect((await h.store.mget(writes.map((w) => w.key))).every((r) => r !== null)).toBe(true);
  });
});
