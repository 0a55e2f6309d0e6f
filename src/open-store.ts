import type { Logger } from 'pino';
import { ClusterStore } from './cache/cluster-store.js';
import { createKeySpace } from './cache/keys.js';
import { MemoryStore } from './cache/memory-store.js';
import { NullStore } from './cache/null-store.js';
import { RedisStore } from './cache/redis-store.js';
import type { CacheStore } from './cache/store.js';
import { TrackingStore } from './cache/tracking-store.js';
import type { Config } from './config.js';

/**
 * The cache store the config names: none (CACHE_MODE=off), a Redis Cluster
 * (REDIS_CLUSTER_NODES), one Redis (REDIS_URL, with the local copy of
 * CACHE_LOCAL_BYTES in front of it), or the in-process store.
 * A Redis that is unreachable at start is logged and served around: reads go
 * to the database until it answers.
 */
export async function openStore(config: Config, logger: Logger): Promise<CacheStore> {
  if (config.cacheMode === 'off') return new NullStore();
  if (config.redisClusterNodes !== undefined) {
    const store = new ClusterStore({
      nodes: config.redisClusterNodes,
      commandTimeoutMs: config.redisCommandTimeoutMs,
      connectTimeoutMs: config.redisConnectTimeoutMs,
      waitReplicas: config.redisClusterWaitReplicas,
      waitTimeoutMs: config.redisClusterWaitTimeoutMs,
      onConnectionError: warnEvery5s(logger, 'redis cluster connection error'),
    });
    return connectOrServeAround(store, logger, 'redis cluster');
  }
  if (config.redisUrl === undefined) return new MemoryStore({ maxEntries: config.memoryStoreMaxEntries });
  const epochKey = createKeySpace(config.cachePrefix).epoch;
  const store = new RedisStore({
    url: config.redisUrl,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    connectTimeoutMs: config.redisConnectTimeoutMs,
    epochKey,
    waitReplicas: config.redisWaitReplicas,
    waitTimeoutMs: config.redisWaitTimeoutMs,
    onConnectionError: warnEvery5s(logger, 'redis connection error'),
  });
  if (config.cacheLocalBytes === 0) return connectOrServeAround(store, logger, 'redis');
  // The local copy in front of it: invalidated by Redis' CLIENT TRACKING, read only behind the barrier.
  const tracking = new TrackingStore({
    inner: store,
    url: config.redisUrl,
    maxBytes: config.cacheLocalBytes,
    flushOn: [epochKey],
    commandTimeoutMs: config.redisCommandTimeoutMs,
    connectTimeoutMs: config.redisConnectTimeoutMs,
    onConnectionError: warnEvery5s(logger, 'redis invalidation connection error'),
  });
  return connectOrServeAround(tracking, logger, 'redis');
}

/** ioredis reports every failed (re)connection attempt, on every node: one line per 5 s tells the story. */
function warnEvery5s(logger: Logger, message: string): (err: Error) => void {
  let lastLogged = 0;
  return (err) => {
    if (Date.now() - lastLogged < 5000) return;
    lastLogged = Date.now();
    logger.warn({ err: err.message }, message);
  };
}

/** Serving starts anyway when the store cannot be reached: reads fall back to the database until it answers. */
async function connectOrServeAround<S extends { connect(): Promise<void> }>(store: S, logger: Logger, what: string): Promise<S> {
  try {
    await store.connect();
  } catch (err) {
    logger.warn({ err }, `${what} is not reachable yet; serving from the database until it is`);
  }
  return store;
}
