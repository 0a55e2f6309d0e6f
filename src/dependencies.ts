import type { Logger } from 'pino';
import { CacheEngine, type StoreCallObserver } from './cache/engine.js';
import { createKeySpace } from './cache/keys.js';
import type { CacheStore } from './cache/store.js';
import type { Config } from './config.js';
import { createContextFactory, type RequestContext, type RequestMeta } from './context.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrations/index.js';
import type { Listening } from './db/notification-listener.js';
import { OutboxRepository } from './db/outbox-repository.js';
import { ShapeRegistry } from './db/cache-shapes.js';
import { readCatalog } from './db/catalog.js';
import { installOutboxTriggers, OUTBOX_CHANNEL, watchedTables } from './db/outbox-triggers.js';
import { ENTITIES, LISTS } from './entities/index.js';
import { shapesOf } from './entities/shapes.js';
import { createReaders, type Readers } from './loaders/readers.js';
import { openStore } from './open-store.js';
import { ConsistencySampler } from './ops/consistency-sampler.js';
import { CacheRepair } from './services/cache-repair.js';
import { OutboxClearer } from './services/outbox-clearer.js';
import { OutboxPruner } from './services/outbox-pruner.js';
import { outboxDurability, WriteThrough } from './services/write-through.js';
import { checkEntitiesAgainstTables } from './table-check.js';

/** Everything a running server holds, built once from the config. */
export interface Dependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  readonly store: CacheStore;
  readonly cache: CacheEngine;
  readonly outbox: OutboxRepository;
  readonly repair: CacheRepair;
  /** CACHE_MODE=off: deletes outbox rows too old to repair anything (nobody replays them); undefined with a cache. */
  readonly pruner: OutboxPruner | undefined;
  /** Wakes the repair worker when another program changed entity rows; undefined when OUTBOX_LISTEN=false or nothing is cached. */
  readonly outboxListener: Listening | undefined;
  readonly sampler: ConsistencySampler;
  readonly readers: Readers;
  /** The write path every service commits through (requests use theirs, primed into their loaders). */
  readonly writes: WriteThrough;
  readonly createContext: (meta?: RequestMeta) => RequestContext;
  /**
   * After the last request: stops the background workers, deletes the outbox
   * rows of writes that landed, gives this instance's failed writes one last
   * repair, waits for fills, and closes the cache store and the database pool.
   */
  close(): Promise<void>;
}

export interface DependencyOptions {
  /** Apply pending migrations before serving. @default true */
  readonly migrate?: boolean;
  /** Sees every cache store call (for the Redis latency metrics). @default undefined */
  readonly onStoreCall?: StoreCallObserver;
  /** Called with the age of each stale key the consistency sampler confirms; for metrics. */
  readonly onStaleSample?: (ageMs: number) => void;
}

export async function createDependencies(
  config: Config,
  logger: Logger,
  options: DependencyOptions = {},
): Promise<Dependencies> {
  const dbLogger = logger.child({ component: 'database' });
  const db = openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.databasePoolMax,
    log: { warn: (message) => dbLogger.warn(message), error: (message) => dbLogger.error(message) },
  });
  try {
    if (options.migrate ?? true) {
      const applied = await migrateToLatest(db.knex);
      if (applied.length > 0) logger.info({ applied }, 'database migrations applied');
    }
    // After the migrations, before anything is served: a definition that disagrees with its table stops the start, naming both.
    checkEntitiesAgainstTables(ENTITIES, LISTS, await readCatalog(db.knex, watchedTables(ENTITIES, LISTS).map((t) => t.table)));
    if (options.migrate ?? true) {
      // After the migrations, which may have created an entity's table: every entity table gets its triggers.
      const triggers = await installOutboxTriggers(db.knex, ENTITIES, LISTS);
      if (triggers.installed.length > 0 || triggers.removed.length > 0) logger.info(triggers, 'outbox triggers installed');
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  const cacheLogger = logger.child({ component: 'cache' });
  const store = await openStore(config, logger);
  // CACHE_MODE=off, decided here once: readers that go straight to the database, a write path that
  // records nothing, no repair or sampling. The engine exists for its counters alone.
  const keepsValues = store.retains;
  const cache = new CacheEngine({
    store,
    keys: createKeySpace(config.cachePrefix),
    ttlSeconds: config.cacheTtlSeconds,
    absentTtlSeconds: config.cacheAbsentTtlSeconds,
    beta: config.xfetchBeta,
    writeRetries: config.cacheWriteRetries,
    writeBackoffMs: config.cacheWriteBackoffMs,
    leaseTtlMs: config.leaseTtlMs,
    leaseWaitMs: config.leaseWaitMs,
    breakerFailureThreshold: config.breakerFailures,
    breakerOpenMs: config.breakerOpenMs,
    logger: cacheLogger,
    onStoreCall: options.onStoreCall,
  });
  const outbox = new OutboxRepository(db.knex);
  const listWindow = config.cacheListWindow;
  // Which shape of each type fills the cache while a deploy that changes a type is under way (cache_shapes).
  const shapes = keepsValues ? new ShapeRegistry(db.knex, { shapes: shapesOf(ENTITIES, LISTS), refreshMs: config.shapesRefreshMs, onError: (err) => cacheLogger.warn({ err }, 'reading the newest cache shapes failed') }) : undefined;
  await shapes?.start();
  const readers = createReaders({ cache, db: db.knex, cached: keepsValues, listWindow, ...(shapes === undefined ? {} : { fills: (kind: string) => shapes.isCurrent(kind) }) });
  const clearer = new OutboxClearer(outbox, { onError: (err) => cacheLogger.warn({ err }, 'clearing outbox rows failed; they will be replayed') });
  const repair = new CacheRepair({
    knex: db.knex,
    outbox,
    cache,
    kinds: readers.kinds,
    logger: cacheLogger,
    intervalMs: config.repairIntervalMs,
    repairAfterMs: config.repairAfterMs,
    landed: (outboxId) => clearer.holds(outboxId),
  });
  const sampler = new ConsistencySampler({
    cache,
    kinds: readers.kinds,
    logger: cacheLogger,
    intervalMs: config.consistencySampleIntervalMs,
    onStale: options.onStaleSample,
  });
  const writes = new WriteThrough({
    knex: db.knex,
    cache: keepsValues ? cache : undefined,
    durability: keepsValues ? outboxDurability(clearer, repair) : undefined,
    listWindow,
    onCommitted: keepsValues
      ? ({ entities, lists }) => sampler.note([...entities, ...lists.map((l) => ({ type: l.list, id: l.owner }))])
      : undefined,
  });
  const createContext = createContextFactory({ readers, cache, writeThrough: writes });
  let outboxListener: Listening | undefined;
  const pruner = keepsValues
    ? undefined
    : new OutboxPruner({ outbox, logger: cacheLogger, olderThanMs: config.cacheTtlSeconds * 1000 + config.leaseTtlMs + 60_000 });
  pruner?.start();
  if (keepsValues) {
    repair.start();
    sampler.start();
    if (config.outboxListen) {
      outboxListener = await db.listen({
        channel: OUTBOX_CHANNEL,
        onNotify: () => repair.wake(),
        onError: (err) => cacheLogger.warn({ err }, 'outbox listener: connection lost; reconnecting (the repair poll goes on meanwhile)'),
      });
    }
  }
  return {
    config,
    logger,
    db,
    store,
    cache,
    outbox,
    repair,
    pruner,
    outboxListener,
    sampler,
    readers,
    writes,
    createContext,
    async close() {
      await outboxListener?.close();
      await pruner?.stop();
      shapes?.stop();
      await sampler.stop();
      await repair.stop();
      await clearer.flush();
      if (cache.trust.suspectCount > 0) {
        await repair.runOnce().catch((err: unknown) => cacheLogger.warn({ err }, 'last repair pass failed; another instance will replay'));
      }
      await cache.idle();
      await store.close();
      await db.close();
    },
  };
}
