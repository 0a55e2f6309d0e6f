import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CacheEngine } from '../../src/cache/engine.js';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { createKeySpace } from '../../src/cache/keys.js';
import { ReadThrough } from '../../src/cache/read-through.js';
import type { RedisStore } from '../../src/cache/redis-store.js';
import { versionedByIds } from '../../src/db/entity-sql.js';
import { product, type ProductRow } from '../../src/entities/product.js';
import { AppError } from '../../src/errors.js';
import { CacheRepair } from '../../src/services/cache-repair.js';
import { OutboxClearer } from '../../src/services/outbox-clearer.js';
import { adjustStock } from '../../src/services/products.js';
import { outboxDurability, WriteThrough } from '../../src/services/write-through.js';
import { codesOf, dataOf, startTestApp, uniqueSku, type TestApp, QUIET_BACKGROUND } from '../helpers/app.js';
import { ChaosStore } from '../helpers/chaos-store.js';
import { countRedisRoundTrips } from '../helpers/counting.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { dbVersions, insertProducts } from '../helpers/products.js';

let app: TestApp;
let trips: ReturnType<typeof countRedisRoundTrips>;
const silent = { debug() {}, warn() {}, error() {} };

const productKey = (id: string) => `${app.prefix}:{Product:${id}}`;
const cachedVersion = async (key: string) => {
  const raw = await app.redis.get(key);
  return raw === null ? undefined : parseEnvelope(raw)?.v;
};

let scratch: ScratchDatabase;

beforeAll(async () => {
  // Its chaos tests leave outbox rows of failed writes: a database of its own keeps other files' repair workers away.
  scratch = await createScratchDatabase('writepath');
  app = await startTestApp({ ...QUIET_BACKGROUND, DATABASE_URL: scratch.url });
  trips = countRedisRoundTrips((app.running.deps.store as RedisStore).client);
});
afterAll(async () => {
  trips.stop();
  await app?.close();
  await scratch?.drop();
});
beforeEach(() => trips.reset());

/** The production write path over a different cache (a chaos-wrapped store). */
function writesOver(cache: CacheEngine): { writes: WriteThrough; repair: CacheRepair } {
  const { deps } = app.running;
  const repair = new CacheRepair({ knex: deps.db.knex, outbox: deps.outbox, cache, kinds: deps.readers.kinds, logger: silent });
  const writes = new WriteThrough({ knex: deps.db.knex, cache, durability: outboxDurability(new OutboxClearer(deps.outbox), repair) });
  return { writes, repair };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The production read path, with a source that pauses after reading the
 * database: `loaded` resolves once the reader holds the row, and it returns it
 * only after `release()`.
 */
function slowReaderOf() {
  const { deps } = app.running;
  const loaded = deferred();
  const released = deferred();
  const reader = new ReadThrough<ProductRow>({
    cache: deps.cache,
    keyFor: productKey,
    load: async (ids) => {
      const rows = await versionedByIds(deps.db.knex, product, ids);
      loaded.resolve();
      await released.promise;
      return rows;
    },
  });
  return { reader, loaded: loaded.promise, release: released.resolve };
}

describe('write path', () => {
  it('a slow fill that loaded version N cannot overwrite N+1 written meanwhile (stale-set race)', async () => {
    const { deps } = app.running;
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    const slow = slowReaderOf();
    const read = slow.reader.loadMany([id]);
    await slow.loaded; // the reader holds version 1 in hand
    const written = await adjustStock(deps.writes, id, 5); // commits and writes version 2
    expect(written.version).toBe(2);
    slow.release(); // now the slow fill of version 1 arrives
    const [seen] = await read;
    expect((seen as ProductRow).version).toBe(1); // it began before the write: version 1 is an honest answer
    await deps.cache.idle();
    expect(await cachedVersion(productKey(id))).toBe(2);
    const res = dataOf(await app.gql<{ product: { version: number; stock: number } }>(`query($id: ID!) { product(id: $id) { version stock } }`, { id }));
    expect(res.product).toEqual({ version: 2, stock: 105 });
  });

  it('...and cannot land either when N+1 was evicted before the slow fill arrived (lease cancelled)', async () => {
    const { deps } = app.running;
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    const slow = slowReaderOf();
    const read = slow.reader.loadMany([id]);
    await slow.loaded;
    await adjustStock(deps.writes, id, 5); // version 2 written through, cancelling the reader's lease
    await app.redis.del(productKey(id)); // evicted
    slow.release();
    await read;
    await deps.cache.idle();
    expect(await cachedVersion(productKey(id))).toBeUndefined(); // the stale fill did not land
    expect(deps.cache.counters.leaseLost).toBeGreaterThan(0);
    const res = dataOf(await app.gql<{ product: { version: number } }>(`query($id: ID!) { product(id: $id) { version } }`, { id }));
    expect(res.product.version).toBe(2);
    await deps.cache.idle();
    expect(await cachedVersion(productKey(id))).toBe(2);
  });

  it('writes all 50 envelopes of adjustStocks in one round trip', async () => {
    const ids = await insertProducts(app.running.deps.db.knex, 50);
    trips.reset();
    const res = await app.gql<{ adjustStocks: { version: number }[] }>(
      `mutation($c: [StockChange!]!) { adjustStocks(changes: $c) { version } }`,
      { c: ids.map((id) => ({ id, delta: -1 })) },
    );
    expect(dataOf(res).adjustStocks.every((p) => p.version === 2)).toBe(true);
    expect(trips.count).toBe(1);
    const cached = await app.redis.mget(ids.map(productKey));
    expect(cached.map((raw) => parseEnvelope(raw as string)?.v)).toEqual(ids.map(() => 2));
  });

  it('writes both accounts of a transfer in one round trip', async () => {
    const create = async (balance: number) =>
      dataOf(await app.gql<{ createAccount: { id: string } }>(`mutation($b: Int!) { createAccount(owner: "T", balanceCents: $b) { id } }`, { b: balance })).createAccount.id;
    const a = await create(500);
    const b = await create(0);
    trips.reset();
    dataOf(await app.gql(`mutation($a: ID!, $b: ID!) { transfer(fromId: $a, toId: $b, amountCents: 200) { amountCents } }`, { a, b }));
    expect(trips.count).toBe(1);
    const [ea, eb] = await app.redis.mget(`${app.prefix}:{Account:${a}}`, `${app.prefix}:{Account:${b}}`);
    expect(parseEnvelope(ea as string)).toMatchObject({ v: 2, data: { balanceCents: 300 } });
    expect(parseEnvelope(eb as string)).toMatchObject({ v: 2, data: { balanceCents: 200 } });
  });

  it('drops the old sku lookup in the same round trip as the renamed product', async () => {
    const sku = uniqueSku();
    const created = dataOf(
      await app.gql<{ createProduct: { id: string } }>(`mutation($s: String!) { createProduct(input: { sku: $s, name: "n", priceCents: 1, stock: 1 }) { id } }`, { s: sku }),
    ).createProduct;
    dataOf(await app.gql(`query($s: String!) { productBySku(sku: $s) { id } }`, { s: sku }));
    await app.running.deps.cache.idle();
    const lookupKey = `${app.prefix}:{Product.sku:${sku}}`;
    expect(await app.redis.exists(lookupKey)).toBe(1);
    trips.reset();
    dataOf(await app.gql(`mutation($id: ID!, $s: String!) { updateProduct(id: $id, patch: { sku: $s }) { version } }`, { id: created.id, s: uniqueSku() }));
    expect(trips.count).toBe(1);
    expect(await app.redis.exists(lookupKey)).toBe(0);
  });

  it('leaves database and cache untouched when a transaction rolls back', async () => {
    const { knex } = app.running.deps.db;
    const ids = await insertProducts(knex, 3, 1);
    dataOf(await app.gql(`query($ids: [ID!]!) { products(ids: $ids) { id } }`, { ids }));
    await app.running.deps.cache.idle();
    const before = await app.redis.mget(ids.map(productKey));
    trips.reset();
    const res = await app.gql(`mutation($c: [StockChange!]!) { adjustStocks(changes: $c) { version } }`, {
      c: [
        { id: ids[0], delta: 5 },
        { id: ids[1], delta: -1 },
        { id: ids[2], delta: -2 },
      ],
    });
    expect(codesOf(res)).toEqual(['INSUFFICIENT_STOCK']);
    expect(trips.count).toBe(0);
    expect(await app.redis.mget(ids.map(productKey))).toEqual(before);
    expect([...(await dbVersions(knex, 'products', ids)).values()]).toEqual([1, 1, 1]);
    const stocks = (await knex('products').select('stock').whereIn('id', ids)) as { stock: number }[];
    expect(stocks.map((s) => s.stock)).toEqual([1, 1, 1]);
  });

  it('retries a failed cache write with backoff, then lands it', async () => {
    const { deps } = app.running;
    const chaos = new ChaosStore(deps.store);
    const cache = new CacheEngine({ store: chaos, keys: createKeySpace(app.prefix), logger: silent, writeRetries: 3, writeBackoffMs: 5 });
    const { writes } = writesOver(cache);
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    chaos.failApplies = 2;
    const row = await adjustStock(writes, id, 1);
    expect(row.version).toBe(2);
    expect(chaos.applyCalls).toBe(3);
    expect(cache.counters.writeRetries).toBe(2);
    expect(await cachedVersion(productKey(id))).toBe(2);
  });

  it('still acknowledges the mutation when the cache stays down, and counts the failure', async () => {
    const { deps } = app.running;
    const chaos = new ChaosStore(deps.store);
    const cache = new CacheEngine({ store: chaos, keys: createKeySpace(app.prefix), logger: silent, writeRetries: 2, writeBackoffMs: 1 });
    const { writes } = writesOver(cache);
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    chaos.failApplies = Infinity;
    const started = performance.now();
    const row = await adjustStock(writes, id, 1);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(row.version).toBe(2);
    expect(chaos.applyCalls).toBe(3);
    expect(cache.counters.writeFailures).toBe(1);
    expect((await dbVersions(deps.db.knex, 'products', [id])).get(id)).toBe(2);
  });

  it('serves reads from the database when the cache cannot be read', async () => {
    const { deps } = app.running;
    const chaos = new ChaosStore(deps.store);
    const cache = new CacheEngine({ store: chaos, keys: createKeySpace(app.prefix), logger: silent });
    const reader = new ReadThrough<ProductRow>({
      cache,
      keyFor: productKey,
      load: (ids) => versionedByIds(deps.db.knex, product, ids),
    });
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    chaos.failReads = 1;
    const [row] = await reader.loadMany([id]);
    expect((row as ProductRow).id).toBe(id);
    expect(cache.counters.readFailures).toBe(1);
  });

  it('maps errors thrown inside a transaction to coded errors and writes nothing', async () => {
    const { deps } = app.running;
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    trips.reset();
    await expect(adjustStock(deps.writes, id, -1_000)).rejects.toSatisfy((e) => e instanceof AppError && e.code === 'INSUFFICIENT_STOCK');
    await expect(adjustStock(deps.writes, id, 2 ** 31 - 1)).rejects.toSatisfy((e) => e instanceof AppError && e.code === 'BAD_USER_INPUT');
    expect(trips.count).toBe(0);
  });
});
