import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_SCRIPT_MAX_KEYS } from '../../src/cache/cluster-reads.js';
import { ClusterStore } from '../../src/cache/cluster-store.js';
import { CacheEngine } from '../../src/cache/engine.js';
import { createEnvelope, parseEnvelope, serializeEnvelope } from '../../src/cache/envelope.js';
import { createKeySpace } from '../../src/cache/keys.js';
import type { CasWrite } from '../../src/cache/store.js';
import { uniquePrefix } from '../helpers/app.js';
import { countClusterRoundTrips, countRedisCommands } from '../helpers/counting.js';
import { RedisCluster } from '../helpers/redis-cluster.js';

/**
 * Reads of concurrent callers on a Redis Cluster of this file's own (3
 * masters, 3 replicas): grouped into one command per master, each caller
 * answered with its own keys in its own order, through a slot migration and
 * with a master down. The last test kills nodes.
 */
let cluster: RedisCluster;
let store: ClusterStore;
const prefix = uniquePrefix();
let n = 0;

const cas = (key: string, v: number): CasWrite => ({ key, value: serializeEnvelope(createEnvelope(v, { v }, Date.now(), 60_000, 1)), version: v, ttlMs: 60_000 });
const versionOf = (raw: string | null | undefined) => (typeof raw === 'string' ? parseEnvelope(raw)?.v : raw);
const versionsOf = (raws: readonly (string | null)[]) => raws.map(versionOf);
const nextTick = () => new Promise((resolve) => setImmediate(resolve));

/** New keys whose slots the store's map gives to the master on `port`. */
function keysOn(port: number, count: number): string[] {
  const keys: string[] = [];
  while (keys.length < count) {
    const key = `${prefix}:{r:${n++}}`;
    if (store.reader.slots[calculateSlot(key)]?.[0] === `127.0.0.1:${port}`) keys.push(key);
  }
  return keys;
}

function readerNode(port: number): Redis {
  const node = store.reader.nodes('master').find((m) => m.options.port === port);
  if (!node) throw new Error(`the store has no connection to master ${port}`);
  return node;
}

/** The commands the store sends to each master while `fn` runs, by master port. */
async function commandsDuring(ports: readonly number[], fn: () => Promise<unknown>): Promise<Map<number, string[]>> {
  const counters = ports.map((port) => [port, countRedisCommands(readerNode(port))] as const);
  try {
    await fn();
    return new Map(counters.map(([port, counter]) => [port, [...counter.names]]));
  } finally {
    for (const [, counter] of counters) counter.stop();
  }
}

beforeAll(async () => {
  cluster = await RedisCluster.start();
  store = new ClusterStore({ nodes: cluster.seeds.slice(0, 2).map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })), commandTimeoutMs: 5_000, waitTimeoutMs: 2_000 });
  await store.connect();
}, 120_000);
afterAll(async () => {
  await store?.close();
  await cluster?.stop();
});

describe('grouped reads on Redis Cluster', () => {
  it('reads asked for in the same tick go out together, one command per master; each caller gets its own keys in its own order', async () => {
    const masters = await cluster.masterPorts();
    const [a, b, c] = masters.map((port) => keysOn(port, 4)) as [string[], string[], string[]];
    const all = [...a, ...b, ...c];
    // Every key but the last of each master holds a version of its own; the last ones are missing.
    const expected = new Map<string, number | null>();
    [a, b, c].forEach((keys, m) => keys.forEach((key, i) => expected.set(key, i < 3 ? 10 * (m + 1) + i : null)));
    await store.apply({ writes: all.filter((key) => expected.get(key) !== null).map((key) => cas(key, expected.get(key) as number)) });
    const callers = [
      all,
      [...all].reverse(),
      [c[1], a[0], a[0], b[3]],
      [b[2]],
      [a[3], c[3]],
      [c[0], b[0], a[1], c[0], b[1]],
    ] as string[][];
    await store.read(all); // every connection has seen the script once

    const trips = countClusterRoundTrips(store.reader);
    let results: (string | null)[][] = [];
    let commands: Map<number, string[]>;
    try {
      commands = await commandsDuring(masters, async () => {
        results = await Promise.all(callers.map((keys) => store.read(keys)));
      });
      expect([...trips.perMaster.values()]).toEqual([1, 1, 1]);
    } finally {
      trips.stop();
    }
    results.forEach((raws, i) => expect(versionsOf(raws)).toEqual((callers[i] as string[]).map((key) => expected.get(key))));
    expect([...commands.values()]).toEqual([['evalsha'], ['evalsha'], ['evalsha']]);

    // One key of one master alone is a plain GET.
    const alone = await commandsDuring(masters, async () => expect(versionsOf(await store.read([b[0] as string]))).toEqual([20]));
    expect([...alone.values()]).toEqual([[], ['get'], []]);
  });

  it('a read asked for while another is out on its master goes out in the next command, never in the one already sent', async () => {
    const [master] = (await cluster.masterPorts()) as [number];
    const [key] = keysOn(master, 1) as [string];
    await store.apply({ writes: [cas(key, 1)] });
    const trips = countClusterRoundTrips(store.reader);
    try {
      // The master holds every command for half a second, so that the first read is surely still out.
      await cluster.cli(master, 'client', 'pause', '500', 'all');
      const first = store.read([key]);
      await nextTick();
      const [second, third] = [store.read([key]), store.read([key])];
      const raws = await Promise.all([first, second, third]);
      expect(raws.map(versionsOf)).toEqual([[1], [1], [1]]);
      // The first alone, then the second and third together.
      expect(trips.perMaster.get(`0/127.0.0.1:${master}`)).toBe(2);
    } finally {
      trips.stop();
    }
  });

  it('while a slot migrates, and after it moved, every caller gets its own values: the master refuses the script and each key is read with GET, following ASK or MOVED', async () => {
    const masters = await cluster.masterPorts();
    const source = masters[1] as number;
    const target = masters[2] as number;
    const [moved, ...bystanders] = keysOn(source, 4) as [string, ...string[]];
    const slot = calculateSlot(moved);
    // Keys of the same slot: one that stays behind during the migration, one that never existed.
    const [sibling, absent] = Array.from({ length: 2 }, () => {
      for (;;) {
        const key = `${prefix}:{r:${n++}}`;
        if (calculateSlot(key) === slot) return key;
      }
    }) as [string, string];
    await store.apply({ writes: [cas(moved, 1), cas(sibling, 2), ...bystanders.map((key, i) => cas(key, 3 + i))] });
    const others = keysOn(masters[0] as number, 2);
    await store.apply({ writes: others.map((key) => cas(key, 9)) });

    const [sourceId, targetId] = [await cluster.idOf(source), await cluster.idOf(target)];
    await cluster.cli(target, 'cluster', 'setslot', String(slot), 'importing', sourceId);
    await cluster.cli(source, 'cluster', 'setslot', String(slot), 'migrating', targetId);
    await cluster.cli(source, 'migrate', '127.0.0.1', String(target), '', '0', '5000', 'keys', moved);

    const callers = [
      [moved, sibling],
      [sibling, bystanders[0], others[0]],
      [bystanders[1], absent, moved, others[1]],
      [bystanders[2]],
    ] as string[][];
    const expected = [
      [1, 2],
      [2, 3, 9],
      [4, null, 1, 9],
      [5],
    ];
    let results: (string | null)[][] = [];
    const during = await commandsDuring([source], async () => {
      results = await Promise.all(callers.map((keys) => store.read(keys)));
    });
    expect(results.map(versionsOf)).toEqual(expected);
    // The script, refused for `moved` (ASK); one GET for each of the six distinct keys the source was asked for;
    // the two refused with ASK (`moved`, `absent`) sent again through ioredis' routing, which asks the source first.
    expect(during.get(source)).toEqual(['evalsha', ...Array.from({ length: 8 }, () => 'get')]);

    // The slot finishes moving; the store's map still names the source, which now answers MOVED.
    await cluster.cli(source, 'migrate', '127.0.0.1', String(target), '', '0', '5000', 'keys', sibling);
    for (const port of masters) await cluster.cli(port, 'cluster', 'setslot', String(slot), 'node', targetId);
    expect(store.reader.slots[slot]?.[0]).toBe(`127.0.0.1:${source}`);
    results = await Promise.all(callers.map((keys) => store.read(keys)));
    expect(results.map(versionsOf)).toEqual(expected);
  });

  it('a key that GET refuses fails the callers that asked for it, not the others grouped with them', async () => {
    const [master] = (await cluster.masterPorts()) as [number];
    const [good, other, hash] = keysOn(master, 3) as [string, string, string];
    await store.apply({ writes: [cas(good, 1), cas(other, 2)] });
    await store.reader.hset(hash, 'not', 'an envelope');
    const settled = await Promise.allSettled([store.read([good, other]), store.read([other, hash]), store.read([good])]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(settled[1]).toMatchObject({ reason: { message: expect.stringMatching(/^WRONGTYPE/) } });
    expect(settled.map((s) => (s.status === 'fulfilled' ? versionsOf(s.value) : undefined))).toEqual([[1, 2], undefined, [1]]);
  });

  it('reads of ~100k keys from 100 concurrent callers are answered in bounded scripts, each key once, without opening the breaker', async () => {
    // The breaker's production default (3 failures); the command timeout is generous, since on a busy machine the
    // client itself (parsing 100k replies) may be late; what is checked is that no script carries more than its bound.
    const bounded = new ClusterStore({ nodes: cluster.seeds.slice(0, 2).map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })), commandTimeoutMs: 10_000 });
    await bounded.connect();
    try {
      const masters = await cluster.masterPorts();
      const callers = 100;
      const perCaller = 1000;
      const keys = Array.from({ length: callers * perCaller }, () => `${prefix}:{big:${n++}}`);
      // A product-sized envelope under every key, written straight to each master.
      const row = { id: '2f1c8f57-0000-4000-8000-000000000000', sku: 'BIG-0000000', name: 'A product of ordinary size', priceCents: 1999, stock: 42, version: 1, updatedAt: new Date().toISOString() };
      const value = serializeEnvelope(createEnvelope(1, row, Date.now(), 120_000, 1));
      const byPort = new Map<number, string[]>();
      for (const key of keys) {
        const port = Number(bounded.reader.slots[calculateSlot(key)]?.[0]?.split(':')[1]);
        const list = byPort.get(port) ?? byPort.set(port, []).get(port);
        list?.push(key);
      }
      for (const [port, onMaster] of byPort) {
        const node = bounded.reader.nodes('master').find((m) => m.options.port === port) as Redis;
        for (let i = 0; i < onMaster.length; i += 5000) {
          const pipeline = node.pipeline();
          for (const key of onMaster.slice(i, i + 5000)) pipeline.set(key, value, 'PX', 120_000);
          await pipeline.exec();
        }
      }
      expect([...byPort.keys()].sort()).toEqual([...masters].sort());

      const engine = new CacheEngine({ store: bounded, keys: createKeySpace(prefix), logger: { debug() {}, warn() {}, error() {} } });
      const sizes: number[] = [];
      const watchers = bounded.reader.nodes('master').map((node) => {
        const target = node as unknown as { sendCommand: (command: { name: string; args: unknown[] }, ...rest: unknown[]) => unknown };
        const original = target.sendCommand;
        target.sendCommand = function watched(this: unknown, command: { name: string; args: unknown[] }, ...rest: unknown[]) {
          // EVALSHA sha numkeys key...: the keys a read script carries.
          if (command.name === 'evalsha' || command.name === 'eval') sizes.push(command.args.length - 2);
          return original.call(this, command, ...rest);
        };
        return () => void (target.sendCommand = original);
      });
      let batches: Awaited<ReturnType<typeof engine.read>>[];
      try {
        batches = await Promise.all(Array.from({ length: callers }, (_, c) => engine.read(keys.slice(c * perCaller, (c + 1) * perCaller))));
      } finally {
        for (const stop of watchers) stop();
      }
      expect(engine.counters.readFailures).toBe(0);
      expect(engine.breaker.opens).toBe(0);
      expect(batches.every((b) => b.reads !== undefined && b.reads.length === perCaller && b.reads.every((r) => r.hit && r.envelope.v === 1))).toBe(true);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(READ_SCRIPT_MAX_KEYS);
      // Every key was read once, however the callers were grouped.
      expect(sizes.reduce((sum, k) => sum + k, 0)).toBe(keys.length);
    } finally {
      await bounded.close();
    }
  }, 120_000);

  it('with a master down, callers whose keys are all on live masters are answered; those with a key on it fail', async () => {
    for (const port of cluster.ports) await cluster.cli(port, 'config', 'set', 'cluster-require-full-coverage', 'no');
    const masters = await cluster.masterPorts();
    const [a, b, c] = masters.map((port) => keysOn(port, 3)) as [string[], string[], string[]];
    await store.apply({ writes: [...a, ...b, ...c].map((key) => cas(key, 1)) });
    // The master and its replica: no failover can bring its slots back.
    const down = masters[2] as number;
    await cluster.kill(await cluster.replicaOf(down));
    await cluster.kill(down);

    const callers = [[a[0], b[0]], [a[1], c[0]], [c[1]], [b[1], b[2], a[2]], [c[2], b[0]]] as string[][];
    const settled = await Promise.allSettled(callers.map((keys) => store.read(keys)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected']);
    expect(settled.map((s) => (s.status === 'fulfilled' ? versionsOf(s.value) : undefined))).toEqual([[1, 1], undefined, undefined, [1, 1, 1], undefined]);
    // And reads of the live masters keep working.
    expect(versionsOf(await store.read([b[2] as string, a[1] as string]))).toEqual([1, 1]);
  });
});
