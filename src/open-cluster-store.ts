import type { Logger } from 'pino';
import { ClusterStore } from './cache/cluster-store.js';
import type { Config, ClusterSeed } from './config.js';

/**
 * The cache store on the Redis Cluster named by REDIS_CLUSTER_NODES. Like the
 * single-node store, a cluster that is unreachable at start is logged and
 * served around: reads go to the database until it answers.
 */
export async function openClusterStore(seeds: readonly ClusterSeed[], config: Config, logger: Logger): Promise<ClusterStore> {
  let lastLogged = 0;
  const store = new ClusterStore({
    nodes: seeds,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    connectTimeoutMs: config.redisConnectTimeoutMs,
    waitReplicas: config.redisClusterWaitReplicas,
    waitTimeoutMs: config.redisClusterWaitTimeoutMs,
    onConnectionError: (err) => {
      // ioredis reports every failed attempt on every node; one line per 5 s tells the story.
      if (Date.now() - lastLogged < 5000) return;
      lastLogged = Date.now();
      logger.warn({ err: err.message }, 'redis cluster connection error');
    },
  });
  try {
    await store.connect();
  } catch (err) {
    logger.warn({ err }, 'redis cluster is not reachable yet; serving from the database until it is');
  }
  return store;
}
