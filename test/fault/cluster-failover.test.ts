import { performance } from 'node:perf_hooks';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import knexPkg, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { dataOf, postGraphql, uniquePrefix, uniqueSku } from '../helpers/app.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';
import { inAny, percentile, staleReads, Workload, type Instance, type Window } from './workload.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * A Redis Cluster master killed under load. Two server instances share
 * Postgres and a cluster of the test's own (3 masters, 3 replicas); writers
 * and readers run over HTTP through steady state, the kill, the failover, a
 * stretch where the promoted replica has no replica of its own, the killed
 * node's return (as a replica) and steady state again. Every operation is
 * recorded and the history checked. Longer runs: FAULT_SOAK=1.
 */
const soak = process.env.FAULT_SOAK === '1';
const STEADY_MS = soak ? 10_000 : 1_500;
/** How long the promoted replica serves alone before the killed node comes back. */
const ALONE_MS = soak ? 8_000 : 2_500;
const AFTER_MS = soak ? 10_000 : 2_500;
/** How long after the cluster is whole again a read may still lag: the repair worker's allowance. */
const REPAIR_ALLOWANCE_MS = 2_000;

let scratch: ScratchDatabase;
let db: Knex;
let cluster: RedisCluster;
const prefix = uniquePrefix();
const servers: ServerProcess[] = [];
const instances: Instance[] = [];
const ids: string[] = [];
const connections = new Map<number, Redis>();

const keyOf = (id: string) => `${prefix}:{Product:${id}}`;
const versionOf = (raw: string | null) => (raw === null ? undefined : parseEnvelope(raw)?.v);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  scratch = await createScratchDatabase('cluster_fault');
  db = knexPkg.knex({ client: 'pg', connection: scratch.url, pool: { min: 0, max: 2 } });
  cluster = await RedisCluster.start();
  const env = (app: string) => ({
    DATABASE_URL: scratch.urlFor(app),
    REDIS_CLUSTER_NODES: cluster.seeds.join(','),
    CACHE_PREFIX: prefix,
    LOG_LEVEL: 'error',
  });
  for (const name of ['A', 'B']) {
    const server = await spawnServer(env(`cluster-fault-${name}`), 120_000);
    servers.push(server);
    instances.push({ name, url: server.url, alive: true });
  }
  // Enough products that every master holds several of them.
  const masters = await cluster.masterPorts();
  const perMaster = new Map<number, number>();
  while (ids.length < 24 || masters.some((m) => (perMaster.get(m) ?? 0) < 5)) {
    const created = dataOf(
      await postGraphql<{ createProduct: { id: string } }>(
        (servers[0] as ServerProcess).url,
        'mutation($s: String!) { createProduct(input: { sku: $s, name: "F", priceCents: 1, stock: 1000000 }) { id } }',
        { s: uniqueSku('CLUSTER') },
      ),
    );
    ids.push(created.createProduct.id);
    const master = await cluster.masterOf(calculateSlot(keyOf(created.createProduct.id)));
    perMaster.set(master, (perMaster.get(master) ?? 0) + 1);
  }
}, 300_000);

afterAll(async () => {
  for (const server of servers) await server.stop();
  for (const redis of connections.values()) redis.disconnect();
  await cluster?.stop();
  await db?.destroy();
  await scratch?.drop();
}, 120_000);

/** One plain connection per node, for looking at keys where they live. */
function node(port: number): Redis {
  let redis = connections.get(port);
  if (!redis) {
    redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, lazyConnect: false });
    redis.on('error', () => {}); // the test kills nodes
    connections.set(port, redis);
  }
  return redis;
}

/** Cached and database versions of every product, read on the master that serves each key now. */
async function compare(): Promise<{ id: string; cached: number | undefined; truth: number }[]> {
  const table = await cluster.table();
  const ownerOf = (slot: number) => table.find((n) => n.master && !n.failed && n.slots.some(([from, to]) => slot >= from && slot <= to))?.port;
  const rows = (await db('products').whereIn('id', ids).select('id', 'version')) as { id: string; version: number }[];
  const truth = new Map(rows.map((r) => [r.id, r.version]));
  return Promise.all(
    ids.map(async (id) => {
      const owner = ownerOf(calculateSlot(keyOf(id)));
      const raw = owner === undefined ? null : await node(owner).get(keyOf(id));
      return { id, cached: versionOf(raw), truth: truth.get(id) ?? 0 };
    }),
  );
}

async function outboxRows(): Promise<number> {
  const [row] = (await db('cache_outbox').count({ n: '*' })) as [{ n: string }];
  return Number(row.n);
}


describe('Redis Cluster failover (real processes)', { timeout: 240_000 }, () => {
  it('a master killed (SIGKILL) under concurrent reads and writes: no read fails, no write is lost, the cache converges', async () => {
    const workload = new Workload(instances, ids, 11);
    workload.start();
    await sleep(STEADY_MS);

    // The master holding the most products dies without a goodbye; what it had not passed to its replica is gone.
    const owners = await Promise.all(ids.map((id) => cluster.masterOf(calculateSlot(keyOf(id)))));
    const victim = [...new Set(owners)].sort((a, b) => owners.filter((o) => o === b).length - owners.filter((o) => o === a).length)[0] as number;
    const heir = await cluster.replicaOf(victim);
    const keysOnVictim = ids.filter((_, i) => owners[i] === victim).length;
    const killedAt = performance.now();
    await cluster.kill(victim);

    // The cluster notices (cluster-node-timeout 2 s) and promotes the replica.
    await waitFor('the replica to be promoted', async () => (await cluster.replication(heir)).role, (role) => role === 'master', 30_000, 50);
    await cluster.waitServing();
    const promotedAt = performance.now();
    // Writes the outage kept from the cache (the failover's losses among them): the outbox must repair these.
    const behindAtPromotion = (await compare()).filter((c) => c.cached !== undefined && c.cached < c.truth).length;

    // The promoted master serves without a replica: its writes are not confirmed, so they are served from
    // Postgres and stay in the outbox until the killed node is back (as its replica) and confirms them.
    await sleep(ALONE_MS);
    const outboxWhileAlone = await outboxRows();
    await cluster.restart(victim);
    await cluster.waitHealthy();
    const healedAt = performance.now();
    const window: Window = { label: 'master SIGKILL', from: killedAt, to: healedAt + REPAIR_ALLOWANCE_MS };
    await sleep(AFTER_MS);
    await workload.stop();
    const stoppedAt = performance.now();

    // Once the cluster is whole, the outbox drains and every cached version equals Postgres.
    await waitFor('the outbox to drain', outboxRows, (n) => n === 0, 15_000, 50);
    const differing = await waitFor(
      'every cached version to equal Postgres',
      async () => (await compare()).filter((c) => c.cached !== undefined && c.cached !== c.truth),
      (d) => Array.isArray(d) && d.length === 0,
      15_000,
      50,
    );
    const convergedAfterStopMs = performance.now() - stoppedAt;
    expect(differing).toEqual([]);

    const { ops } = workload;
    const writes = ops.filter((o) => o.kind === 'write');
    const acked = writes.filter((o) => o.version !== undefined);
    const reads = ops.filter((o) => o.kind === 'read');

    // 1. No acknowledged write is lost: Postgres holds that version or a later one.
    const truth = new Map((await compare()).map((c) => [c.id, c.truth]));
    expect(acked.filter((w) => (truth.get(w.id) ?? 0) < (w.version ?? 0))).toEqual([]);
    // 2. Every write was acknowledged (Postgres is healthy; the cache trouble is repaired behind them).
    expect(writes.filter((w) => w.error !== undefined).slice(0, 5)).toEqual([]);
    // 3. No read failed: Postgres served while the slot was down.
    expect(reads.filter((r) => r.error !== undefined).slice(0, 5)).toEqual([]);
    // 4. No read older than a write acknowledged before it began, outside the fault window.
    const stale = staleReads(ops);
    expect(stale.filter((s) => !inAny(s.op, [window]))).toEqual([]);

    const inWindow = (o: (typeof ops)[number]) => inAny(o, [window]);
    const figures = {
      fault: 'cluster master SIGKILL',
      keysOnKilledMaster: `${keysOnVictim} of ${ids.length}`,
      failoverMs: Math.round(promotedAt - killedAt),
      keysBehindPostgresAtPromotion: `${behindAtPromotion} of ${ids.length}`,
      outboxRowsWhilePromotedMasterAlone: outboxWhileAlone,
      replicaBackAfterKillMs: Math.round(healedAt - killedAt),
      operations: ops.length,
      acknowledgedWrites: acked.length,
      failedWrites: writes.length - acked.length,
      readsInWindow: reads.filter(inWindow).length,
      readP99InWindowMs: Math.round(percentile(reads.filter(inWindow).map((r) => r.end - r.start), 99)),
      slowestReadMs: Math.round(Math.max(0, ...reads.map((r) => r.end - r.start))),
      writeP99InWindowMs: Math.round(percentile(writes.filter(inWindow).map((w) => w.end - w.start), 99)),
      slowestWriteMs: Math.round(Math.max(0, ...writes.map((w) => w.end - w.start))),
      staleReads: stale.length,
      staleReadsByPhase: {
        beforePromotion: stale.filter((x) => x.op.start < promotedAt).length,
        promotedMasterAlone: stale.filter((x) => x.op.start >= promotedAt && x.op.start < healedAt).length,
        afterReplicaBack: stale.filter((x) => x.op.start >= healedAt).length,
      },
      staleReadsOnKilledMastersKeys: stale.filter((x) => owners[ids.indexOf(x.op.id)] === victim).length,
      maxStaleBehindMs: Math.round(Math.max(0, ...stale.map((s) => s.behindMs))),
      convergedAfterStopMs: Math.round(convergedAfterStopMs),
    };
    console.log(`cluster fault figures: ${JSON.stringify(figures)}`);
    expect(acked.length, 'the workload made progress').toBeGreaterThan(10);
  });

  it('a write the failover loses is never read stale, and is repaired from the outbox once a replica confirms it', async () => {
    const [a, b] = instances as [Instance, Instance];
    const id = ids[0] as string;
    const key = keyOf(id);
    const master = await cluster.masterOf(calculateSlot(key));
    const heir = await cluster.replicaOf(master);
    const readOn = async (instance: Instance) => {
      const res = await postGraphql<{ product: { version: number } }>(instance.url, 'query($id: ID!) { product(id: $id) { version } }', { id });
      return res.errors?.length ? `error ${JSON.stringify(res.errors)}` : res.data?.product.version;
    };
    const before = (await readOn(b)) as number;

    // Cut the replication link for good: the replica stops reading (paused), the master's buffer for it
    // overflows a small limit, and the master drops it. What the master writes from now on only it holds.
    await node(master).config('SET', 'client-output-buffer-limit', 'replica 1mb 1mb 0');
    cluster.pause(heir);
    for (let i = 0; (await cluster.replication(master)).connectedReplicas > 0; i++) {
      if (i === 20) throw new Error('the master kept its replica link');
      await node(master).set(`${key}:ballast:${i}`, 'x'.repeat(8 * 1024 * 1024));
    }
    const written = dataOf(await postGraphql<{ adjustStock: { version: number } }>(a.url, 'mutation($id: ID!) { adjustStock(id: $id, delta: 1) { version } }', { id }));
    const version = written.adjustStock.version;
    expect(version).toBe(before + 1);
    // Acknowledged (Postgres holds it), unconfirmed: A distrusts the key; B still reads it from the master.
    expect(await readOn(b)).toBe(version);

    // Readers on both instances keep asking while the master dies and its replica, which never got the write, takes over.
    const seen: (number | string | undefined)[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        seen.push(...(await Promise.all([readOn(a), readOn(b)])));
        await sleep(20);
      }
    })();
    try {
      await cluster.kill(master);
      cluster.resume(heir);
      // Still a replica (nothing can write to it): it holds the version before the lost write.
      await sleep(300);
      expect(versionOf(await cluster.getOn(heir, key))).toBe(before);
      await waitFor('the replica to be promoted', async () => (await cluster.replication(heir)).role, (role) => role === 'master', 30_000, 50);
      await cluster.waitServing();
      // Alone, the promoted master cannot confirm anything: the change stays in the outbox.
      await sleep(1_000);
      expect(await outboxRows()).toBeGreaterThan(0);
      await cluster.restart(master);
      await cluster.waitHealthy();
      await waitFor('the outbox to drain', outboxRows, (n) => n === 0, 15_000, 50);
    } finally {
      polling = false;
      await poller;
    }
    // Not one read, on either instance, returned the version the failover fell back to.
    console.log(`cluster lost-write figures: ${JSON.stringify({ reads: seen.length, notTheAcknowledgedVersion: seen.filter((v) => v !== version).length })}`);
    expect(seen.filter((v) => v !== version)).toEqual([]);
    expect((await compare()).find((c) => c.id === id)).toMatchObject({ cached: version, truth: version });
  });
});
