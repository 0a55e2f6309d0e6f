import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheEngine } from '../../src/cache/engine.js';
import { createEnvelope, serializeEnvelope } from '../../src/cache/envelope.js';
import { createKeySpace } from '../../src/cache/keys.js';
import { RedisStore, UntrustedStoreError } from '../../src/cache/redis-store.js';
import { deleteByPrefix, uniquePrefix } from '../helpers/app.js';
import { countRedisCommands } from '../helpers/counting.js';
import { RedisProcess } from '../helpers/redis-process.js';
import { REDIS_URL } from '../helpers/services.js';

/**
 * The single-Redis store's epoch (redis-store.ts): instances agree on one,
 * a read carries it in the same MGET, an epoch that changes under a live
 * connection stops reads at once, and the engine serves nothing written
 * before the epoch began. The restarts and failovers themselves are in
 * test/fault/redis-lost-writes.test.ts.
 */
const prefix = uniquePrefix();
const keys = createKeySpace(prefix);
let raw: Redis;
const stores: RedisStore[] = [];

async function openStore(url = REDIS_URL): Promise<RedisStore> {
  const store = new RedisStore({ url, epochKey: keys.epoch, connectTimeoutMs: 1000 });
  stores.push(store);
  await store.connect();
  return store;
}

beforeAll(async () => {
  raw = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await raw.connect();
});
afterAll(async () => {
  for (const store of stores) await store.close();
  await deleteByPrefix(raw, prefix);
  raw.disconnect();
});

describe('the cache epoch on one Redis', () => {
  it('is made by the first store to connect and adopted by the next; it has a TTL; a read is still one MGET', async () => {
    const before = Date.now();
    const a = await openStore();
    const b = await openStore();
    expect(a.trustedSince).toBeGreaterThanOrEqual(before);
    expect(b.trustedSince).toBe(a.trustedSince);
    const epoch = JSON.parse((await raw.get(keys.epoch)) as string) as { run: string; since: number };
    expect(epoch.since).toBe(a.trustedSince);
    expect(epoch.run).toBe(/run_id:(\w+)/.exec(await raw.info('server'))?.[1]);
    expect(await raw.pttl(keys.epoch)).toBeGreaterThan(0);

    const commands = countRedisCommands(a.client);
    try {
      expect(await a.read([keys.entity('T', 'x'), keys.entity('T', 'y')])).toEqual([null, null]);
      expect(commands.names).toEqual(['mget']);
    } finally {
      commands.stop();
    }
  });

  it('that changes under a live connection stops its reads at once; the next read checks it again and trusts only what comes after', async () => {
    const store = await openStore();
    const first = store.trustedSince as number;
    // What another instance does when it finds a Redis that lost writes: a new epoch.
    await raw.del(keys.epoch);
    await expect(store.read([keys.entity('T', 'z')])).rejects.toBeInstanceOf(UntrustedStoreError);
    expect(await store.read([keys.entity('T', 'z')])).toEqual([null]);
    expect(store.trustedSince).toBeGreaterThanOrEqual(first);
    expect(JSON.parse((await raw.get(keys.epoch)) as string)).toMatchObject({ since: store.trustedSince });
  });

  it('makes the engine treat an envelope written before it as a miss (its lease granted, so the CAS can refill it) and peek at it as absent, and serve one written after', async () => {
    const store = await openStore();
    const since = store.trustedSince as number;
    const engine = new CacheEngine({ store, keys, logger: { debug() {}, warn() {}, error() {} } });
    const [older, newer] = [keys.entity('T', 'older'), keys.entity('T', 'newer')];
    const put = (key: string, writtenAt: number) =>
      raw.set(key, serializeEnvelope(createEnvelope(3, { at: writtenAt }, writtenAt, 60_000, 1)), 'PX', 60_000);
    await put(older, since - 1);
    await put(newer, since);
    const { reads } = await engine.read([older, newer]);
    expect(reads?.map((r) => (r.hit ? 'hit' : r.lease))).toEqual(['granted', 'hit']);
    expect(engine.counters.distrustedValues).toBe(1);
    expect(engine.counters.invalidValues).toBe(0);
    // The repair worker and the consistency sampler see it as the readers do: not there.
    expect((await engine.peek([older, newer]))?.map((e) => e?.v ?? null)).toEqual([null, 3]);
  });

  it('refuses a replica: it may lag behind its master', async () => {
    const primary = await RedisProcess.start();
    const replica = await RedisProcess.start(undefined, { replicaOf: primary.port });
    try {
      const store = new RedisStore({ url: replica.url, epochKey: keys.epoch, connectTimeoutMs: 1000 });
      stores.push(store);
      await expect(store.connect()).rejects.toThrow(/is a replica/);
      await expect(store.read([keys.entity('T', 'r')])).rejects.toBeInstanceOf(UntrustedStoreError);
      expect(store.trustedSince).toBeUndefined();
    } finally {
      await replica.stop();
      await primary.stop();
    }
  });
});
