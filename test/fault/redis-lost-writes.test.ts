import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import type { RedisStore } from '../../src/cache/redis-store.js';
import { dataOf, startTestApp, type TestApp } from '../helpers/app.js';
import { RedisProcess } from '../helpers/redis-process.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { createAccount, createProduct, placeOrder } from '../helpers/shop.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * A single Redis that comes back with older data than it acknowledged: a
 * restart from an older snapshot, a replica promoted after it missed the last
 * writes. Outbox rows are gone once a write landed, so nothing replays those
 * writes; reads through the API must still never return a version older than
 * one acknowledged before. Each scenario runs against redis-server processes
 * of its own; the database is this file's own.
 */
let scratch: ScratchDatabase;
beforeAll(async () => {
  scratch = await createScratchDatabase('lostwrites');
});
afterAll(async () => {
  await scratch?.drop();
});

interface Seen {
  readonly version: number;
  readonly orders: readonly string[];
}

const READ = 'query($p: ID!, $a: ID!) { product(id: $p) { version } account(id: $a) { orders(first: 10) { nodes { id } } } }';

async function read(app: TestApp, productId: string, accountId: string): Promise<Seen> {
  const data = dataOf(
    await app.gql<{ product: { version: number }; account: { orders: { nodes: { id: string }[] } } }>(READ, { p: productId, a: accountId }),
  );
  return { version: data.product.version, orders: data.account.orders.nodes.map((o) => o.id) };
}

const inspect = (port: number): Redis => {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  client.on('error', () => {}); // it sees every fault the test causes
  return client;
};

const versionIn = async (client: Redis, key: string): Promise<number | undefined> => {
  const raw = await client.get(key);
  return raw === null ? undefined : parseEnvelope(raw)?.v;
};

/**
 * Reads through the API until the cache holds the acknowledged version again;
 * fails at the first read older than what was acknowledged (`expected`).
 */
async function readUntilCached(app: TestApp, inspector: Redis, productId: string, accountId: string, expected: Seen): Promise<Seen[]> {
  const seen: Seen[] = [];
  const productKey = `${app.prefix}:{Product:${productId}}`;
  const stale = (s: Seen) => s.version < expected.version || expected.orders.some((o) => !s.orders.includes(o));
  await waitFor(
    'the cache to hold the acknowledged version again',
    async () => {
      const s = await read(app, productId, accountId);
      seen.push(s);
      return { stale: stale(s), cached: await versionIn(inspector, productKey) };
    },
    (v) => v.stale || v.cached === expected.version,
    30_000,
    20,
  );
  expect(seen.filter(stale)).toEqual([]);
  return seen;
}

describe('a Redis restarted from an older snapshot', () => {
  let dir: string;
  let redis: RedisProcess;
  let app: TestApp;
  let inspector: Redis;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fg-snapshot-'));
    redis = await RedisProcess.start(undefined, { snapshotsIn: dir });
    app = await startTestApp({ DATABASE_URL: scratch.urlFor('lost-snapshot'), REDIS_URL: redis.url, OUTBOX_LISTEN: 'false' });
    inspector = inspect(redis.port);
    await inspector.connect();
  });
  afterAll(async () => {
    await app?.close();
    inspector?.disconnect();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('never serves a version, or a list, older than what was acknowledged before the restart', async () => {
    const productId = await createProduct(app);
    const accountId = await createAccount(app);
    expect(await read(app, productId, accountId)).toEqual({ version: 1, orders: [] });
    await app.running.deps.cache.idle();
    const productKey = `${app.prefix}:{Product:${productId}}`;
    expect(await versionIn(inspector, productKey)).toBe(1);
    await redis.snapshot();

    // Acknowledged after the snapshot, landed in Redis, outbox rows cleared.
    dataOf(await app.gql('mutation($id: ID!) { adjustStock(id: $id, delta: 5) { version } }', { id: productId }));
    const orderId = await placeOrder(app, accountId, productId);
    const acknowledged: Seen = { version: 3, orders: [orderId] };
    expect(await read(app, productId, accountId)).toEqual(acknowledged);
    await app.running.deps.cache.idle();
    expect(await versionIn(inspector, productKey)).toBe(3);

    await redis.restartFromSnapshot();
    // The premise: Redis is back with the snapshot's older version.
    expect(await waitFor('Redis back from its snapshot', () => versionIn(inspector, productKey), (v) => typeof v === 'number')).toBe(1);

    await readUntilCached(app, inspector, productId, accountId, acknowledged);
    // Served from the cache again, at the version acknowledged: the snapshot's values were taken for misses.
    expect(await read(app, productId, accountId)).toEqual(acknowledged);
    expect(app.running.deps.cache.counters.distrustedValues).toBeGreaterThan(0);
  });
});

describe('a replica promoted after it missed the last writes', () => {
  let primary: RedisProcess;
  let link: TcpProxy;
  let replica: RedisProcess;
  let proxy: TcpProxy;
  let app: TestApp;
  let inspector: Redis;
  beforeAll(async () => {
    primary = await RedisProcess.start();
    // Replication goes through a proxy the test can cut: what the master sends meanwhile is lost.
    link = await TcpProxy.start(primary.port);
    replica = await RedisProcess.start(undefined, { replicaOf: link.port });
    // The app reaches "the master" through a proxy, as through a Sentinel-aware address that moves on failover.
    proxy = await TcpProxy.start(primary.port);
    app = await startTestApp({ DATABASE_URL: scratch.urlFor('lost-failover'), REDIS_URL: proxy.url, OUTBOX_LISTEN: 'false' });
    inspector = inspect(replica.port);
    await inspector.connect();
  });
  afterAll(async () => {
    await app?.close();
    inspector?.disconnect();
    await proxy?.close();
    await replica?.stop();
    await link?.close();
    await primary?.stop();
  });

  it('never serves a version, or a list, older than what the old master acknowledged', async () => {
    const productId = await createProduct(app);
    const accountId = await createAccount(app);
    expect(await read(app, productId, accountId)).toEqual({ version: 1, orders: [] });
    await app.running.deps.cache.idle();
    const productKey = `${app.prefix}:{Product:${productId}}`;
    await waitFor('the replica to have version 1', () => versionIn(inspector, productKey), (v) => v === 1);

    // The replica stops receiving; the master acknowledges on its own (replication is asynchronous).
    link.block();
    dataOf(await app.gql('mutation($id: ID!) { adjustStock(id: $id, delta: 5) { version } }', { id: productId }));
    const orderId = await placeOrder(app, accountId, productId);
    const acknowledged: Seen = { version: 3, orders: [orderId] };
    expect(await read(app, productId, accountId)).toEqual(acknowledged);
    await app.running.deps.cache.idle();

    // The master dies; the replica that missed those writes is promoted and the address moves to it.
    await primary.kill();
    await inspector.replicaof('NO', 'ONE');
    expect(await versionIn(inspector, productKey)).toBe(1);
    proxy.retarget(replica.port);
    proxy.reset();

    await readUntilCached(app, inspector, productId, accountId, acknowledged);
    expect(await read(app, productId, accountId)).toEqual(acknowledged);
    expect(app.running.deps.cache.counters.distrustedValues).toBeGreaterThan(0);
  });
});

describe('REDIS_WAIT_REPLICAS on a single Redis with a replica', () => {
  let primary: RedisProcess;
  let replica: RedisProcess;
  let app: TestApp;
  let inspector: Redis;
  beforeAll(async () => {
    primary = await RedisProcess.start();
    replica = await RedisProcess.start(undefined, { replicaOf: primary.port });
    app = await startTestApp({
      DATABASE_URL: scratch.urlFor('lost-wait'),
      REDIS_URL: primary.url,
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '100',
      OUTBOX_LISTEN: 'false',
    });
    inspector = inspect(replica.port);
    await inspector.connect();
    await waitFor('the replica in sync', async () => (await inspector.info('replication')).includes('master_link_status:up'), Boolean);
  });
  afterAll(async () => {
    await app?.close();
    inspector?.disconnect();
    await replica?.stop();
    await primary?.stop();
  });

  it('acknowledges a write-through as landed only once the replica has it; one the replica missed is repaired when it is back', async () => {
    const { cache } = app.running.deps;
    const productId = await createProduct(app);
    const productKey = `${app.prefix}:{Product:${productId}}`;
    // Confirmed: the replica holds the write-through as soon as the mutation is acknowledged.
    expect(await versionIn(inspector, productKey)).toBe(1);
    expect(cache.counters.writeFailures).toBe(0);

    replica.pause();
    const { adjustStock } = dataOf(await app.gql<{ adjustStock: { version: number } }>('mutation($id: ID!) { adjustStock(id: $id, delta: 5) { version } }', { id: productId }));
    expect(adjustStock.version).toBe(2);
    // Applied on the master but unconfirmed: a failed write-through, read from Postgres here until repaired.
    expect(cache.counters.writeFailures).toBe(1);
    expect(cache.trust.suspectCount).toBeGreaterThan(0);
    expect(cache.breaker.state).toBe('closed');
    const { product } = dataOf(await app.gql<{ product: { version: number } }>('query($id: ID!) { product(id: $id) { version } }', { id: productId }));
    expect(product.version).toBe(2);

    replica.resume();
    await waitFor('the repair to land the write on the replica too', () => versionIn(inspector, productKey), (v) => v === 2);
    await waitFor('the key trusted again', async () => cache.trust.suspectCount, (n) => n === 0);
    expect((app.running.deps.store as RedisStore).kind).toBe('redis');
  });
});
