import type { Logger } from 'pino';
import { EntityCache, type StoreCallObserver } from './cache/entity-cache.js';
import { createKeySpace } from './cache/keys.js';
import { MemoryStore } from './cache/memory-store.js';
import { RedisStore } from './cache/redis-store.js';
import type { CacheStore } from './cache/store.js';
import type { Config } from './config.js';
import { createContextFactory, type RequestContext, type RequestMeta } from './context.js';
import { AccountsRepository } from './db/accounts-repository.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrations/index.js';
import { ProductsRepository } from './db/products-repository.js';
import { createReaders, type Readers } from './loaders/readers.js';
import { AccountsService } from './services/accounts-service.js';
import { ProductsService } from './services/products-service.js';

/** Everything a running server holds, built once from the config. */
export interface Dependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  readonly store: CacheStore;
  readonly cache: EntityCache;
  readonly productsRepo: ProductsRepository;
  readonly accountsRepo: AccountsRepository;
  readonly products: ProductsService;
  readonly accounts: AccountsService;
  readonly readers: Readers;
  readonly createContext: (meta?: RequestMeta) => RequestContext;
  /** Waits for background cache work, then closes the cache store and the database pool. */
  close(): Promise<void>;
}

export interface DependencyOptions {
  /** Apply pending migrations before serving. @default true */
  readonly migrate?: boolean;
  /** Sees every cache store call (for the Redis latency metrics). @default undefined */
  readonly onStoreCall?: StoreCallObserver;
}

export async function createDependencies(
  config: Config,
  logger: Logger,
  options: DependencyOptions = {},
): Promise<Dependencies> {
  const db = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolMax: config.databasePoolMax });
  if (options.migrate ?? true) {
    const applied = await migrateToLatest(db.knex);
    if (applied.length > 0) logger.info({ applied }, 'database migrations applied');
  }
  const store = await openStore(config, logger);
  const cache = new EntityCache({
    store,
    keys: createKeySpace(config.cachePrefix),
    ttlSeconds: config.cacheTtlSeconds,
    beta: config.xfetchBeta,
    enabled: config.cacheMode === 'on',
    writeRetries: config.cacheWriteRetries,
    writeBackoffMs: config.cacheWriteBackoffMs,
    logger: logger.child({ component: 'cache' }),
    onStoreCall: options.onStoreCall,
  });
  const productsRepo = new ProductsRepository(db.knex);
  const accountsRepo = new AccountsRepository(db.knex);
  const products = new ProductsService(db.knex, productsRepo, cache);
  const accounts = new AccountsService(db.knex, accountsRepo, cache);
  const readers = createReaders(cache, productsRepo, accountsRepo);
  const createContext = createContextFactory({ readers, cache, productsRepo, products, accounts });
  return {
    config,
    logger,
    db,
    store,
    cache,
    productsRepo,
    accountsRepo,
    products,
    accounts,
    readers,
    createContext,
    async close() {
      await cache.idle();
      await store.close();
      await db.close();
    },
  };
}

async function openStore(config: Config, logger: Logger): Promise<CacheStore> {
  if (config.redisUrl === undefined) {
    return new MemoryStore({ maxEntries: config.memoryStoreMaxEntries });
  }
  const store = new RedisStore({
    url: config.redisUrl,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    connectTimeoutMs: config.redisConnectTimeoutMs,
    onConnectionError: (err) => logger.warn({ err: err.message }, 'redis connection error'),
  });
  try {
    await store.connect();
  } catch (err) {
    // Serving starts anyway: reads fall back to the database until Redis answers.
    logger.warn({ err }, 'redis is not reachable yet; serving from the database until it is');
  }
  return store;
}
