import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheEngine } from '../../src/cache/engine.js';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { ReadThrough } from '../../src/cache/read-through.js';
import type { CachedKind, CachedKinds } from '../../src/cached-values.js';
import { columnList, versionedByIds } from '../../src/db/entity-sql.js';
import { RecordingScope } from '../../src/db/recording-scope.js';
import { LISTS } from '../../src/entities/index.js';
import { product, type ProductRow } from '../../src/entities/product.js';
import { CacheRepair } from '../../src/services/cache-repair.js';
import { ConsistencySampler } from '../../src/ops/consistency-sampler.js';
import { OutboxClearer } from '../../src/services/outbox-clearer.js';
import { adjustStock, deleteProduct } from '../../src/services/products.js';
import { outboxDurability, WriteThrough } from '../../src/services/write-through.js';
import { dataOf, QUIET_BACKGROUND, startTestApp, type TestApp } from '../helpers/app.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { ChaosStore } from '../helpers/chaos-store.js';
import { insertProducts } from '../helpers/products.js';

let app: TestApp;
let scratch: ScratchDatabase;
const appName = `fg-outbox-${randomBytes(4).toString('hex')}`;
const silent = { debug() {}, warn() {}, error() {} };

beforeAll(async () => {
  // An outbox of this file's own: other files' servers neither add rows to it nor repair them.
  scratch = await createScratchDatabase('outbox');
  // The app's own repair worker stays idle here; each test drives repairs itself.
  app = await startTestApp({ ...QUIET_BACKGROUND, DATABASE_URL: scratch.urlFor(appName) });
});
afterAll(async () => {
  await app?.close();
  await scratch?.drop();
});

const keyOf = (id: string) => `${app.prefix}:{Product:${id}}`;
const cachedVersion = async (id: string) => {
  const raw = await app.redis.get(keyOf(id));
  return raw === null ? undefined : parseEnvelope(raw)?.v;
};
const outboxRowsFor = async (id: string) =>
  Number(((await app.running.deps.db.knex('cache_outbox').where({ entity_id: id }).count({ n: '*' })) as [{ n: string }])[0].n);

/** A second "instance" over the same database whose Redis writes can be made to fail. */
function flakyInstance(clearDelayMs = 1) {
  const { deps } = app.running;
  const chaos = new ChaosStore(deps.store);
  const cache = new CacheEngine({ store: chaos, keys: deps.cache.keys, logger: silent, writeRetries: 1, writeBackoffMs: 1 });
  const repair = new CacheRepair({ knex: deps.db.knex, outbox: deps.outbox, cache, kinds: deps.readers.kinds, logger: silent, repairAfterMs: 60_000 });
  const clearer = new OutboxClearer(deps.outbox, { maxDelayMs: clearDelayMs });
  const writes = new WriteThrough({ knex: deps.db.knex, cache, durability: outboxDurability(clearer, repair) });
  return { chaos, cache, repair, clearer, writes };
}

describe('transactional outbox', () => {
  it('records each mutation in the outbox inside its transaction, and clears it once the cache has it', async () => {
    const [id] = (await insertProducts(app.running.deps.db.knex, 1)) as [string];
    const flaky = flakyInstance();
    await adjustStock(flaky.writes, id, 1);
    await flaky.clearer.flush();
    expect(await outboxRowsFor(id)).toBe(0);
    expect(await cachedVersion(id)).toBe(2);
  });

  it('after a failed cache write: the writer reads the key from the database, and the repair lands the version', async () => {
    const { deps } = app.running;
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    dataOf(await app.gql(`query($id: ID!) { product(id: $id) { id } }`, { id }));
    await deps.cache.idle();
    expect(await cachedVersion(id)).toBe(1);

    const flaky = flakyInstance();
    flaky.chaos.failApplies = Infinity;
    const row = await adjustStock(flaky.writes, id, 7); // acknowledged although Redis refused the write
    expect(row.version).toBe(2);
    expect(await cachedVersion(id)).toBe(1); // the cache is behind...
    expect(await outboxRowsFor(id)).toBe(1); // ...and the outbox knows it
    expect(flaky.cache.trust.suspectCount).toBe(1);

    // The instance that failed reads that key from the database meanwhile.
    const viaFlaky = new ReadThrough<ProductRow>({
      cache: flaky.cache,
      keyFor: keyOf,
      load: (ids) => versionedByIds(deps.db.knex, product, ids),
    });
    expect(((await viaFlaky.loadMany([id]))[0] as ProductRow).version).toBe(2);

    // Redis is back: the repair replays the write, clears the outbox and trusts the key again.
    flaky.chaos.failApplies = 0;
    expect(await flaky.repair.runOnce()).toBe(1);
    expect(await cachedVersion(id)).toBe(2);
    expect(await outboxRowsFor(id)).toBe(0);
    expect(flaky.cache.trust.suspectCount).toBe(0);
    expect(flaky.cache.counters.repairs).toBe(1);
  });

  it('tells every instance within one pass to read a key from the database while its write awaits repair', async () => {
    const { deps } = app.running;
    const [id, landedId] = (await insertProducts(deps.db.knex, 2)) as [string, string];
    const read = async () => ((await deps.readers.of(product).loadMany([id]))[0] as ProductRow).version;
    expect(await read()).toBe(1);
    await deps.cache.idle();
    const flaky = flakyInstance(60_000); // its clearer waits, so landed writes keep their outbox rows meanwhile
    await adjustStock(flaky.writes, landedId, 1); // lands; its outbox row is merely not cleared yet
    flaky.chaos.failApplies = Infinity;
    await adjustStock(flaky.writes, id, 1); // acknowledged; Redis still says version 1
    expect(await read()).toBe(1); // this instance does not know yet...
    await new Promise((r) => setTimeout(r, 250));
    // ...until its repair worker's next pass sees the overdue outbox row (repair itself not yet due).
    const otherInstancesWorker = new CacheRepair({ knex: deps.db.knex, outbox: deps.outbox, cache: deps.cache, kinds: deps.readers.kinds, logger: silent, repairAfterMs: 60_000 });
    expect(await otherInstancesWorker.runOnce()).toBe(0);
    expect(deps.cache.trust.pendingElsewhereCount).toBe(1); // the landed write is no reason for doubt
    expect(await read()).toBe(2);
    expect(await cachedVersion(id)).toBe(1);
    // Once repaired (here by the instance that failed), the key is served from the cache again.
    flaky.chaos.failApplies = 0;
    await flaky.repair.runOnce();
    await otherInstancesWorker.runOnce();
    expect(deps.cache.trust.pendingElsewhereCount).toBe(0);
    expect(await cachedVersion(id)).toBe(2);
    await flaky.clearer.flush();
  });

  it('replays, on any instance, what an instance that died after its commit never wrote', async () => {
    const { deps } = app.running;
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    dataOf(await app.gql(`query($id: ID!) { product(id: $id) { id } }`, { id }));
    await deps.cache.idle();
    // What a crash between commit and cache write leaves behind: the row changed, the outbox row, no cache write.
    await deps.db.knex.transaction(async (trx) => {
      const scope = new RecordingScope({ transaction: trx }, { record: true, lists: LISTS });
      await scope.change(product, 'update', trx.raw(`update products set stock = 1, version = 2 where id = ? returning ${columnList(product)}`, [id]));
    });
    const repair = new CacheRepair({ knex: deps.db.knex, outbox: deps.outbox, cache: deps.cache, kinds: deps.readers.kinds, logger: silent, repairAfterMs: 300 });
    expect(await repair.runOnce()).toBe(0); // too young: its writer may still be at work
    await new Promise((r) => setTimeout(r, 400));
    expect(await repair.runOnce()).toBe(1);
    expect(await cachedVersion(id)).toBe(2);
    expect(await outboxRowsFor(id)).toBe(0);
  });

  it('repairs a deletion as a tombstone', async () => {
    const { deps } = app.running;
    const [id] = (await insertProducts(deps.db.knex, 1)) as [string];
    dataOf(await app.gql(`query($id: ID!) { product(id: $id) { id } }`, { id }));
    await deps.cache.idle();
    const flaky = flakyInstance();
    flaky.chaos.failApplies = Infinity;
    expect(await deleteProduct(flaky.writes, id)).toBe(true);
    expect(await cachedVersion(id)).toBe(1);
    flaky.chaos.failApplies = 0;
    await flaky.repair.runOnce();
    expect(parseEnvelope((await app.redis.get(keyOf(id))) as string)).toMatchObject({ v: 2, data: null });
  });

  it('two instances repairing at once share the rows (SKIP LOCKED) and write each once', async () => {
    const { deps } = app.running;
    const ids = await insertProducts(deps.db.knex, 40);
    await deps.db.knex.transaction(async (trx) => {
      const scope = new RecordingScope({ transaction: trx }, { record: true, lists: LISTS });
      await scope.change(product, 'update', trx.raw(`update products set version = 2 where id = any(?::uuid[]) returning ${columnList(product)}`, [ids]));
    });
    await new Promise((r) => setTimeout(r, 50));
    const make = () => new CacheRepair({ knex: deps.db.knex, outbox: deps.outbox, cache: deps.cache, kinds: deps.readers.kinds, logger: silent, repairAfterMs: 0, suspectAfterMs: 0, batchSize: 25 });
    const [a, b] = [make(), make()];
    const counts = await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
    expect(counts.reduce((x, y) => x + y, 0)).toBe(40);
    expect((await app.redis.mget(...ids.map(keyOf))).map((raw) => parseEnvelope(raw as string)?.v)).toEqual(ids.map(() => 2));
  });
});

describe('outbox rows the repair worker cannot apply', () => {
  /** The app's own kinds, with the products' load replaced. */
  const kindsWith = (load: CachedKind['load']): CachedKinds => {
    const kinds = new Map(app.running.deps.readers.kinds);
    const productKind = kinds.get('Product') as CachedKind;
    kinds.set('Product', { ...productKind, load });
    return kinds;
  };
  const recordChange = async (ids: readonly string[], version: number): Promise<string[]> => {
    const { deps } = app.running;
    return deps.db.knex.transaction(async (trx) => {
      const scope = new RecordingScope({ transaction: trx }, { record: true, lists: LISTS });
      await scope.change(product, 'update', trx.raw(`update products set version = ? where id = any(?::uuid[]) returning ${columnList(product)}`, [version, [...ids]]));
      return scope.outboxIds;
    });
  };
  const setAsideRows = async (outboxIds: readonly string[]) =>
    (await app.running.deps.db.knex.raw('select id::text as id, entity_id, reason from cache_outbox_rejected where id = any(?::bigint[])', [[...outboxIds]])).rows as {
      id: string;
      entity_id: string;
      reason: string;
    }[];

  it('a load that fails for one row alone sets that row aside, drops its key, and replays every other row of the batch', async () => {
    const { deps } = app.running;
    const ids = await insertProducts(deps.db.knex, 20);
    const poison = ids[13] as string;
    await deps.cache.write([{ key: keyOf(poison), version: 1, data: { id: poison } }]);
    const outboxIds = await recordChange(ids, 2);
    let loads = 0;
    const realLoad = (deps.readers.kinds.get('Product') as CachedKind).load;
    const kinds = kindsWith(async (batch, db) => {
      loads++;
      // A row whose data cannot be served, as a decode error would say; the same for this row every time.
      if (batch.includes(poison)) throw new TypeError(`Expected an integer, got 1e+400`);
      return realLoad(batch, db);
    });
    const repair = new CacheRepair({ knex: deps.db.knex, outbox: deps.outbox, cache: deps.cache, kinds, logger: silent, repairAfterMs: 0, suspectAfterMs: 0 });
    const before = { ...deps.cache.counters };
    expect(await repair.runOnce()).toBe(20);
    // Halving until it stands alone: a handful of loads, not one per row.
    expect(loads).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(20)));
    const versions = (await app.redis.mget(...ids.map(keyOf))).map((raw) => (raw === null ? undefined : parseEnvelope(raw)?.v));
    expect(versions).toEqual(ids.map((id) => (id === poison ? undefined : 2)));
    expect(await setAsideRows(outboxIds)).toEqual([{ id: outboxIds[13], entity_id: poison, reason: 'loading it failed: Expected an integer, got 1e+400' }]);
    expect(await outboxRowsFor(poison)).toBe(0);
    expect(deps.cache.counters.outboxRejects - before.outboxRejects).toBe(1);
    expect(deps.cache.counters.repairs - before.repairs).toBe(19);
  });

  it('a failure that says nothing about the rows (the connection died) sets nothing aside: the rows wait for the next pass', async () => {
    const { deps } = app.running;
    const ids = await insertProducts(deps.db.knex, 3);
    const outboxIds = await recordChange(ids, 2);
    const dying = kindsWith(async () => {
      throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    });
    const failing = new CacheRepair({ knex: deps.db.knex, outbox: deps.outbox, cache: deps.cache, kinds: dying, logger: silent, repairAfterMs: 0, suspectAfterMs: 0 });
    await expect(failing.runOnce()).rejects.toMatchObject({ code: '57P01' });
    expect(await setAsideRows(outboxIds)).toEqual([]);
    expect(await Promise.all(ids.map(outboxRowsFor))).toEqual([1, 1, 1]);
    const working = new CacheRepair({ knex: deps.db.knex, outbox: deps.outbox, cache: deps.cache, kinds: deps.readers.kinds, logger: silent, repairAfterMs: 0, suspectAfterMs: 0 });
    expect(await working.runOnce()).toBe(3);
    expect(await Promise.all(ids.map(cachedVersion))).toEqual([2, 2, 2]);
  });
});

describe('consistency sampler', () => {
  it('finds a key whose cached version is behind Postgres, reports its age, and clears once repaired', async () => {
    const { deps } = app.running;
    const ids = await insertProducts(deps.db.knex, 5);
    await deps.readers.of(product).loadMany(ids);
    await deps.cache.idle();
    const ages: number[] = [];
    const sampler = new ConsistencySampler({ cache: deps.cache, kinds: deps.readers.kinds, logger: silent, recheckMs: 50, onStale: (ms) => ages.push(ms) });
    const flaky = flakyInstance();
    for (const id of ids) await adjustStock(flaky.writes, id, 1); // all land in the cache
    const [behind] = ids as [string];
    flaky.chaos.failApplies = Infinity;
    await adjustStock(flaky.writes, behind, 1); // this one does not
    sampler.note(ids.map((id) => ({ type: 'Product', id })));

    const before = deps.cache.counters.consistencySamples;
    expect(await sampler.runOnce()).toEqual({ sampled: 5, stale: 1 });
    expect(deps.cache.counters.consistencySamples - before).toBe(5);
    expect(ages).toHaveLength(1);
    expect(ages[0]).toBeGreaterThanOrEqual(0);

    flaky.chaos.failApplies = 0;
    await flaky.repair.runOnce();
    expect(await sampler.runOnce()).toEqual({ sampled: 5, stale: 0 });
  });
});

describe('database faults', () => {
  const terminateOurConnections = async () => {
    const { knex } = app.running.deps.db;
    // From a connection of our own pool: end every other backend this app holds.
    await knex.raw(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ? and pid <> pg_backend_pid()`, [appName]);
  };

  it('retries a mutation whose connection was terminated before it committed, and loses nothing', async () => {
    const { knex } = app.running.deps.db;
    const [id] = (await insertProducts(knex, 1)) as [string];
    // Warm the pool so that it holds several idle connections, then kill them.
    await Promise.all(Array.from({ length: 5 }, () => knex.raw('select pg_sleep(0.05)')));
    await terminateOurConnections();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => app.gql<{ adjustStock: { version: number } }>(`mutation($id: ID!) { adjustStock(id: $id, delta: 1) { version } }`, { id })),
    );
    const acknowledged = results.filter((r) => r.data?.adjustStock).length;
    for (const r of results) if (r.errors) expect(r.errors[0]?.extensions?.['code']).toBe('SERVICE_UNAVAILABLE');
    expect(acknowledged).toBeGreaterThanOrEqual(4);
    const [row] = (await knex('products').where({ id }).select('version', 'stock')) as [{ version: number; stock: number }];
    // Every acknowledged change is in the database, exactly once.
    expect(row.version).toBeGreaterThanOrEqual(1 + acknowledged);
    expect(row.stock - 100).toBe(row.version - 1);
  });

  it('serves reads after its connections were terminated', async () => {
    const { knex } = app.running.deps.db;
    const ids = await insertProducts(knex, 3);
    await Promise.all(Array.from({ length: 5 }, () => knex.raw('select pg_sleep(0.05)')));
    await terminateOurConnections();
    const res = await app.gql<{ products: { id: string }[] }>(`query($ids: [ID!]!) { products(ids: $ids) { id } }`, { ids });
    expect(res.errors).toBeUndefined();
    expect(dataOf(res).products.map((p) => p.id)).toEqual(ids);
  });
});
