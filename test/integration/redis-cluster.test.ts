import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_SCRIPT_MAX_KEYS } from '../../src/cache/cluster-reads.js';
import { ClusterStore } from '../../src/cache/cluster-store.js';
import { createEnvelope, parseEnvelope, serializeEnvelope } from '../../src/cache/envelope.js';
import { UnconfirmedWriteError, type CasWrite } from '../../src/cache/store.js';
import { dataOf, QUIET_BACKGROUND, startTestApp, uniquePrefix, type TestApp } from '../helpers/app.js';
import { countClusterRoundTrips, countSql } from '../helpers/counting.js';
import { rawFetch } from '../helpers/http.js';
import { insertProducts } from '../helpers/products.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * freshgraph on a Redis Cluster of this file's own (3 masters, 3 replicas on
 * loopback): what a batch costs per master, keys in every slot, resharding
 * (ASK, MOVED), replica confirmation of write-throughs, and readiness.
 */
let cluster: RedisCluster;
let app: TestApp;
let inspector: Cluster;
let ids: string[];
const logs: string[] = [];

const listQuery = 'query($ids: [ID!]!) { products(ids: $ids) { id version stock } }';
const debug = { 'x-freshgraph-debug': '1' };
const storeOf = (a: TestApp) => a.running.deps.store as ClusterStore;
const keyOf = (a: TestApp, id: string) => `${a.prefix}:{Product:${id}}`;
const cas = (key: string, v: number, data: unknown = { v }): CasWrite => ({
  key,
  value: serializeEnvelope(createEnvelope(v, data, Date.now(), 60_000, 1)),
  version: v,
  ttlMs: 60_000,
});
const versionOf = (raw: string | null | undefined) => (typeof raw === 'string' ? parseEnvelope(raw)?.v : undefined);
const clusterEnv = () => ({ REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds.slice(0, 3).join(','), DEBUG_EXTENSIONS: 'true' });

beforeAll(async () => {
  cluster = await RedisCluster.start();
  app = await startTestApp({ ...QUIET_BACKGROUND, ...clusterEnv(), LOG_LEVEL: 'info' }, { logDestination: { write: (line: string) => void logs.push(line) } });
  ids = await insertProducts(app.running.deps.db.knex, 100);
  inspector = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }], { lazyConnect: true });
  await inspector.connect();
}, 120_000);
afterAll(async () => {
  await app?.close();
  await inspector?.quit();
  await cluster?.stop();
});

describe('freshgraph on Redis Cluster', () => {
  it('says at start that the cache is a Redis Cluster', () => {
    const line = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => typeof l['cache'] === 'string');
    expect(line?.['cache']).toMatch(/^redis cluster \(seeds 127\.0\.0\.1:\d+,.*reads from masters; write-throughs confirmed by 1 replica/);
    expect(line?.['msg']).toBe('running on Postgres and Redis Cluster');
  });

  it('cold products(100 ids): per master one read, one lease and one fill pipeline; one SELECT', async () => {
    const store = storeOf(app);
    const trips = countClusterRoundTrips(store.reader, store.writer);
    const sql = countSql(app.running.deps.db.knex);
    try {
      const res = await app.gql<{ products: { id: string; version: number }[] }>(listQuery, { ids }, debug);
      expect(dataOf(res).products.map((p) => p.id)).toEqual(ids);
      expect(res.extensions?.['cache']).toEqual({ hits: 0, misses: 100, redisRoundTrips: 2, sqlStatements: 1 });
      await app.running.deps.cache.idle();
      expect(sql.count).toBe(1);
      const perMaster = [...trips.perMaster.entries()];
      // Three masters on the reader (read, leases, fills), none on the writer.
      expect(perMaster.filter(([name]) => name.startsWith('0/')).map(([, n]) => n)).toEqual([3, 3, 3]);
      expect(perMaster.filter(([name]) => name.startsWith('1/')).map(([, n]) => n)).toEqual([0, 0, 0]);
    } finally {
      trips.stop();
      sql.stop();
    }
  });

  it('warm products(100 ids) through the server: one round trip per master, no SQL, redisRoundTrips 1', async () => {
    const store = storeOf(app);
    const trips = countClusterRoundTrips(store.reader, store.writer);
    const sql = countSql(app.running.deps.db.knex);
    try {
      // Through Apollo with the debug view, then through the fast path: the same cost.
      const viewed = await app.gql<{ products: { id: string }[] }>(listQuery, { ids }, debug);
      expect(dataOf(viewed).products).toHaveLength(100);
      // The debug view counts round trips the request waited for one after another: the masters are asked in parallel.
      expect(viewed.extensions?.['cache']).toEqual({ hits: 100, misses: 0, redisRoundTrips: 1, sqlStatements: 0 });
      expect([...trips.perMaster.values()]).toEqual([1, 1, 1, 0, 0, 0]);
      trips.reset();
      const fast = await app.gql<{ products: { id: string; version: number }[] }>(listQuery, { ids });
      expect(dataOf(fast).products.map((p) => p.version)).toEqual(ids.map(() => 1));
      await app.running.deps.cache.idle();
      expect([...trips.perMaster.values()]).toEqual([1, 1, 1, 0, 0, 0]);
      expect(sql.count).toBe(0);
    } finally {
      trips.stop();
      sql.stop();
    }
  });

  it('a mutation writes through with its replica confirmation in the same round trip', async () => {
    const store = storeOf(app);
    const [id] = ids as [string];
    const trips = countClusterRoundTrips(store.reader, store.writer);
    try {
      const res = dataOf(await app.gql<{ adjustStock: { version: number } }>('mutation($id: ID!) { adjustStock(id: $id, delta: 1) { version } }', { id }));
      expect(res.adjustStock.version).toBe(2);
      expect(trips.total).toBe(1);
      expect(versionOf(await inspector.get(keyOf(app, id)))).toBe(2);
      // The replica holds it too: WAIT answered before the mutation did.
      const master = await cluster.masterOf(calculateSlot(keyOf(app, id)));
      const replica = await cluster.replicaOf(master);
      expect(versionOf(await cluster.getOn(replica, keyOf(app, id)))).toBe(2);
    } finally {
      trips.stop();
    }
  });

  it('lists: placeOrder writes the account, the order and the account\'s orders (its owner\'s slot) in one round trip; warm pages are one read per master', async () => {
    const store = storeOf(app);
    const place = async (accountId: string) =>
      dataOf(
        await app.gql<{ placeOrder: { id: string } }>('mutation($a: ID!, $p: ID!) { placeOrder(accountId: $a, lines: [{ productId: $p, quantity: 1 }]) { id } }', {
          a: accountId,
          p: ids[10],
        }),
      ).placeOrder.id;
    const accounts: string[] = [];
    for (let i = 0; i < 12; i++) {
      accounts.push(dataOf(await app.gql<{ createAccount: { id: string } }>('mutation { createAccount(owner: "Cluster", balanceCents: 100000) { id } }')).createAccount.id);
    }
    const [first] = accounts as [string];
    const trips = countClusterRoundTrips(store.reader, store.writer);
    let placed: string;
    try {
      placed = await place(first);
      // The writer's pipelines, one per master the product, account, order and list live on, sent at once.
      expect(Math.max(...[...trips.perMaster.entries()].filter(([name]) => name.startsWith('1/')).map(([, n]) => n))).toBe(1);
    } finally {
      trips.stop();
    }
    const listKey = `${app.prefix}:{Account:${first}}.orders`;
    expect(calculateSlot(listKey)).toBe(calculateSlot(`${app.prefix}:{Account:${first}}`));
    expect(parseEnvelope<{ ids: string[] }>((await inspector.get(listKey)) as string)?.data?.ids).toEqual([placed]);
    for (const accountId of accounts.slice(1)) await place(accountId);
    const query = 'query($ids: [ID!]!) { accounts(ids: $ids) { orders(first: 10) { totalCount nodes { id } } } }';
    dataOf(await app.gql(query, { ids: accounts }));
    await app.running.deps.cache.idle();
    const warm = countClusterRoundTrips(store.reader, store.writer);
    const sql = countSql(app.running.deps.db.knex);
    try {
      const res = await app.gql<{ accounts: { orders: { totalCount: number; nodes: { id: string }[] } }[] }>(query, { ids: accounts }, debug);
      expect(dataOf(res).accounts.map((a) => a.orders.totalCount)).toEqual(accounts.map(() => 1));
      expect(dataOf(res).accounts[0]?.orders.nodes.map((n) => n.id)).toEqual([placed]);
      expect(res.extensions?.['cache']).toMatchObject({ misses: 0, sqlStatements: 0 });
      // Accounts, lists, orders: at most three reads per master, all in parallel.
      expect(Math.max(...warm.perMaster.values())).toBeLessThanOrEqual(3);
      expect(sql.count).toBe(0);
    } finally {
      warm.stop();
      sql.stop();
    }
  });

  it('reads and writes keys in every one of the 16,384 slots, one round trip per master for each batch', async () => {
    // A store of its own with generous timeouts: 16,384 scripts in one call take a while on a busy machine.
    const store = new ClusterStore({ nodes: [{ host: '127.0.0.1', port: cluster.ports[1] as number }], commandTimeoutMs: 30_000, waitTimeoutMs: 10_000 });
    await store.connect();
    const prefix = uniquePrefix();
    const bySlot = new Map<number, string>();
    for (let n = 0; bySlot.size < 16384; n++) {
      const key = `${prefix}:{s:${n}}`;
      const slot = calculateSlot(key);
      if (!bySlot.has(slot)) bySlot.set(slot, key);
    }
    // In key order, which is not slot order: neighbouring keys live on different masters.
    const keys = [...bySlot.values()].sort((a, b) => (a < b ? -1 : 1));
    const trips = countClusterRoundTrips(store.reader, store.writer);
    try {
      const outcomes = await store.apply({ writes: keys.map((k, i) => cas(k, 1 + (i % 7), { i })) });
      expect(outcomes.every((o) => o === 'written')).toBe(true);
      expect([...trips.perMaster.values()]).toEqual([0, 0, 0, 1, 1, 1]);
      trips.reset();
      const raws = await store.read(keys);
      expect(raws.map((raw) => parseEnvelope<{ i: number }>(raw as string)?.data?.i)).toEqual(keys.map((_, i) => i));
      // A read script carries at most READ_SCRIPT_MAX_KEYS keys: about 5,461 keys per master take 6, one after another.
      const scripts = Math.ceil(Math.ceil(keys.length / 3) / READ_SCRIPT_MAX_KEYS);
      expect([...trips.perMaster.values()]).toEqual([scripts, scripts, scripts, 0, 0, 0]);
      trips.reset();
      const taken = await store.acquireLeases(keys, { token: 'every-slot', ttlMs: 30_000 });
      expect(taken.every(Boolean)).toBe(true);
      const filled = await store.fill(keys.map((k, i) => cas(k, 1 + (i % 7), { i, refreshed: true })), 'every-slot');
      expect(filled.every((o) => o === 'refreshed')).toBe(true);
      expect([...trips.perMaster.values()]).toEqual([2, 2, 2, 0, 0, 0]);
      expect(await store.apply({ writes: [], deletes: keys })).toEqual([]);
      expect((await store.read(keys)).every((raw) => raw === null)).toBe(true);
    } finally {
      trips.stop();
      await store.close();
    }
  });

  it('follows a slot that moves between masters: ASK while it migrates, MOVED after', async () => {
    const store = storeOf(app);
    const prefix = uniquePrefix();
    // Two keys in one slot, and bystanders elsewhere.
    const moved = `${prefix}:{m:0}`;
    const slot = calculateSlot(moved);
    let sibling = '';
    for (let n = 1; sibling === ''; n++) if (calculateSlot(`${prefix}:{m:${n}}`) === slot) sibling = `${prefix}:{m:${n}}`;
    const bystanders = Array.from({ length: 20 }, (_, i) => `${prefix}:{b:${i}}`);
    await store.apply({ writes: [cas(moved, 1), cas(sibling, 1), ...bystanders.map((k) => cas(k, 1))] });

    const source = await cluster.masterOf(slot);
    const target = (await cluster.masterPorts()).find((p) => p !== source) as number;
    const [sourceId, targetId] = [await cluster.idOf(source), await cluster.idOf(target)];
    await cluster.cli(target, 'cluster', 'setslot', String(slot), 'importing', sourceId);
    await cluster.cli(source, 'cluster', 'setslot', String(slot), 'migrating', targetId);
    await cluster.cli(source, 'migrate', '127.0.0.1', String(target), '', '0', '5000', 'keys', moved);

    // Mid-migration: the source answers ASK for `moved` and still serves `sibling`; one batch reads both right.
    expect((await store.read([moved, sibling, ...bystanders])).map(versionOf)).toEqual([1, 1, ...bystanders.map(() => 1)]);
    // A script whose entity and lease are on different sides is refused (TRYAGAIN) until the slot has moved:
    // the call fails, and the engine repairs such writes from the outbox. Bystanders are unaffected.
    await expect(store.apply({ writes: [cas(sibling, 2)] })).rejects.toThrow(/TRYAGAIN|redirections/);
    expect(await store.apply({ writes: [cas(bystanders[0] as string, 2)] })).toEqual(['written']);
    // With both its keys on the target, `moved` takes a lease and is filled there, through ASK.
    expect(await store.acquireLeases([moved], { token: 'mid', ttlMs: 5_000 })).toEqual([true]);
    expect(await store.fill([cas(moved, 2)], 'mid')).toEqual(['written']);

    // The rest of the slot moves, then every master learns the new owner.
    await cluster.cli(source, 'migrate', '127.0.0.1', String(target), '', '0', '5000', 'keys', sibling);
    for (const port of await cluster.masterPorts()) await cluster.cli(port, 'cluster', 'setslot', String(slot), 'node', targetId);

    // The store's slot map is stale now: the first calls meet MOVED and still answer correctly.
    expect((await store.read([moved, sibling, ...bystanders])).map(versionOf)).toEqual([2, 1, 2, ...bystanders.slice(1).map(() => 1)]);
    expect(await store.apply({ writes: [cas(moved, 3), cas(sibling, 3)] })).toEqual(['written', 'written']);
    expect(versionOf(await cluster.getOn(target, sibling))).toBe(3);
    // Once the map is refreshed, a batch goes straight to the new owner: one round trip per master again.
    await waitFor('the client to learn the new owner', async () => store.reader.slots[slot]?.[0], (owner) => owner === `127.0.0.1:${target}`);
    const trips = countClusterRoundTrips(store.reader, store.writer);
    try {
      expect((await store.read([moved, sibling, ...bystanders])).map(versionOf)).toEqual([3, 3, 2, ...bystanders.slice(1).map(() => 1)]);
      expect(trips.max).toBe(1);
    } finally {
      trips.stop();
    }
  });

  it('a write-through that no replica confirms counts as failed, though its master applied it', async () => {
    const store = storeOf(app);
    const key = `${uniquePrefix()}:{confirm:1}`;
    const master = await cluster.masterOf(calculateSlot(key));
    const replica = await cluster.replicaOf(master);
    cluster.pause(replica);
    try {
      await expect(store.apply({ writes: [cas(key, 1)] })).rejects.toThrow(UnconfirmedWriteError);
      await expect(store.apply({ writes: [cas(key, 2)] })).rejects.toThrow(/confirmed by 0 of 1 replicas within 100 ms/);
      expect(versionOf(await inspector.get(key))).toBe(2);
      // Reads and fills do not wait for replicas.
      expect((await store.read([key])).map(versionOf)).toEqual([2]);
    } finally {
      cluster.resume(replica);
    }
    await waitFor('the replica to catch up', () => store.apply({ writes: [cas(key, 3)] }).catch((err: Error) => err.message), (r) => Array.isArray(r));
    expect(versionOf(await cluster.getOn(replica, key))).toBe(3);
  });

  it('concurrent write-throughs to one master share a WAIT: one pipeline goes out, the rest follow together', async () => {
    const store = storeOf(app);
    const prefix = uniquePrefix();
    // Ten keys on one master.
    const keys: string[] = [];
    const [master] = (await cluster.masterPorts()) as [number];
    for (let n = 0; keys.length < 10; n++) {
      const key = `${prefix}:{g:${n}}`;
      if (store.writer.slots[calculateSlot(key)]?.[0] === `127.0.0.1:${master}`) keys.push(key);
    }
    const trips = countClusterRoundTrips(store.writer);
    try {
      const outcomes = await Promise.all(keys.map((k) => store.apply({ writes: [cas(k, 1)] })));
      expect(outcomes).toEqual(keys.map(() => ['written']));
      expect(trips.perMaster.get(`0/127.0.0.1:${master}`)).toBe(2);
      // With its replica gone, all of them fail after at most two WAITs, instead of queueing one WAIT each.
      const replica = await cluster.replicaOf(master);
      cluster.pause(replica);
      trips.reset();
      try {
        const failed = await Promise.all(keys.map((k) => store.apply({ writes: [cas(k, 2)] }).catch((err: unknown) => err)));
        expect(failed.every((err) => err instanceof UnconfirmedWriteError)).toBe(true);
        expect(trips.perMaster.get(`0/127.0.0.1:${master}`)).toBe(2);
      } finally {
        cluster.resume(replica);
      }
    } finally {
      trips.stop();
    }
  });

  it('/readyz pings every master: 503 naming the cache while one does not answer', async () => {
    const ready = async () => {
      const res = await rawFetch(new URL('/readyz', app.url).toString());
      return { status: res.status, body: res.json as { checks: Record<string, string> } };
    };
    expect(await ready()).toMatchObject({ status: 200, body: { checks: { cache: 'ok' } } });
    const [master] = (await cluster.masterPorts()) as [number];
    cluster.pause(master);
    let down: Awaited<ReturnType<typeof ready>>;
    try {
      // A probe's answer is reused for READY_CACHE_MS (1 s): the next fresh check names the cache.
      down = await waitFor('readyz to notice the paused master', ready, (r) => r.status === 503, 5_000);
    } finally {
      cluster.resume(master);
    }
    expect(down.status).toBe(503);
    expect(down.body.checks['cache']).toMatch(/error|timeout/);
    await waitFor('readyz after the master answers again', ready, (r) => r.status === 200);
  });
});

describe('a mutation whose replica is down', () => {
  let scratch: ScratchDatabase;
  let repairing: TestApp;

  beforeAll(async () => {
    // An outbox of this file's own, with its repair worker running: no other file's rows are replayed here.
    scratch = await createScratchDatabase('cluster');
    repairing = await startTestApp({ ...clusterEnv(), DATABASE_URL: scratch.url, CONSISTENCY_SAMPLE_INTERVAL_MS: '0' });
  }, 60_000);
  afterAll(async () => {
    await repairing?.close();
    await scratch?.drop();
  });

  it('is acknowledged, read from Postgres until a replica confirms it, then repaired from the outbox', async () => {
    const knex = repairing.running.deps.db.knex;
    const [id] = (await insertProducts(knex, 1)) as [string];
    const read = () => repairing.gql<{ product: { version: number } }>('query($id: ID!) { product(id: $id) { version } }', { id }, debug);
    expect(dataOf(await read()).product.version).toBe(1);
    await repairing.running.deps.cache.idle();
    const key = keyOf(repairing, id);
    const replica = await cluster.replicaOf(await cluster.masterOf(calculateSlot(key)));
    const counters = repairing.running.deps.cache.counters;
    const [retries, failures] = [counters.writeRetries, counters.writeFailures];
    cluster.pause(replica);
    try {
      const res = dataOf(await repairing.gql<{ adjustStock: { version: number } }>('mutation($id: ID!) { adjustStock(id: $id, delta: -1) { version } }', { id }));
      expect(res.adjustStock.version).toBe(2);
      // One attempt: retrying would only wait for the same replica again.
      expect([counters.writeRetries - retries, counters.writeFailures - failures]).toEqual([0, 1]);
      // Not confirmed: the key is read from Postgres, and the outbox keeps the change.
      const meanwhile = await read();
      expect(dataOf(meanwhile).product.version).toBe(2);
      expect(meanwhile.extensions?.['cache']).toMatchObject({ hits: 0, sqlStatements: 1 });
      expect(await outboxRows(knex, id)).toBeGreaterThan(0);
    } finally {
      cluster.resume(replica);
    }
    await waitFor('the repair worker to replay the change', () => outboxRows(knex, id), (n) => n === 0);
    expect(versionOf(await cluster.getOn(replica, key))).toBe(2);
    await waitFor('the key to be trusted again', async () => (await read()).extensions?.['cache'], (c) => (c as { hits: number }).hits === 1);
  });
});

async function outboxRows(knex: TestApp['running']['deps']['db']['knex'], id: string): Promise<number> {
  const [row] = (await knex('cache_outbox').where({ entity_id: id }).count({ n: '*' })) as [{ n: string }];
  return Number(row.n);
}

