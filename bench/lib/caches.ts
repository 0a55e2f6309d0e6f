/**
 * Where each configuration keeps its cache, and what the bench does to it
 * between workloads. The regular run shares one Redis (the developer's, a DB
 * number of the bench's own) and keeps every configuration under its own key
 * prefix; `--cluster` starts its own redis-server processes, one plain server
 * and one Redis Cluster, each serving one configuration.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import type { ConfigurationName } from './configurations.js';
import { LocalRedis, LocalRedisCluster, redisCli } from './local-redis.js';
import { connectRedis, countByPrefix, deleteByPrefix } from './redis.js';

export interface CacheServers {
  /** The Redis version, for the report. */
  readonly version: string;
  /** The environment that points one configuration's server at its cache. */
  env(name: ConfigurationName): Record<string, string>;
  /** Removes every cache entry of one configuration. */
  empty(name: ConfigurationName): Promise<void>;
  /** Cache entries of one configuration. */
  count(name: ConfigurationName): Promise<number>;
  /**
   * CPU time (user + system, µs) that the Redis processes serving one configuration have used so far,
   * or NaN when they serve others too and their CPU is not this configuration's.
   */
  cpuUs(name: ConfigurationName): Promise<number>;
  /** Removes what the bench wrote, stops what it started. */
  close(): Promise<void>;
}

/** The key prefix of one configuration: `fgbench-cache_off:...`. */
export const prefixOf = (prefix: string, name: ConfigurationName) => `${prefix}-${name.replace(/-/g, '_')}`;

const versionOf = (info: string) => /redis_version:(\S+)/.exec(info)?.[1] ?? '?';

/** The regular run: one shared Redis, one key prefix per configuration, every key deleted at the end. */
export async function sharedRedis(url: string, prefix: string, configurations: readonly ConfigurationName[]): Promise<CacheServers> {
  const redis: Redis = await connectRedis(url);
  const version = versionOf(await redis.info('server'));
  const keyPrefix = (name: ConfigurationName) => `${prefixOf(prefix, name)}:`;
  for (const name of configurations) await deleteByPrefix(redis, keyPrefix(name));
  return {
    version,
    env: (name) => ({ REDIS_URL: url, CACHE_PREFIX: prefixOf(prefix, name) }),
    // The cache epoch stays: without it the running server starts a new one, and every read already in
    // flight when it notices fails and fills nothing, so the pre-warm that follows would warm nothing.
    empty: async (name) => {
      await deleteByPrefix(redis, keyPrefix(name), `${keyPrefix(name)}epoch`);
    },
    count: (name) => countByPrefix(redis, keyPrefix(name)),
    cpuUs: async () => Number.NaN,
    close: async () => {
      for (const name of configurations) await deleteByPrefix(redis, keyPrefix(name));
      redis.disconnect();
    },
  };
}

/** CPU seconds of one redis-server as INFO reports them (its own getrusage), in µs. */
async function nodeCpuUs(port: number): Promise<number> {
  const info = await redisCli(port, 'info', 'cpu');
  const seconds = (field: string) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6;
}

/**
 * `--cluster`: a redis-server for `freshgraph` and a Redis Cluster (three
 * masters with a replica each) for `freshgraph-cluster`, from the same
 * binary with the same settings, on free loopback ports. Each serves one
 * configuration, so emptying it is FLUSHALL and its CPU is that
 * configuration's (a cluster's is the sum over its six nodes: replicas
 * apply every write too).
 */
export async function ownRedisServers(prefix: string, log: (line: string) => void): Promise<CacheServers> {
  let single: LocalRedis | undefined;
  let cluster: LocalRedisCluster | undefined;
  const close = async () => {
    await Promise.all([single?.stop(), cluster?.stop()]);
  };
  try {
    const started = Date.now();
    single = await LocalRedis.start();
    cluster = await LocalRedisCluster.start(6);
    log(`started redis-server on 127.0.0.1:${single.port} and a Redis Cluster on ${cluster.seeds.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    await close();
    throw err;
  }
  const one = single;
  const many = cluster;
  const { stdout } = await promisify(execFile)('redis-server', ['--version']);
  const version = /v=(\S+)/.exec(stdout)?.[1] ?? '?';
  const ports = async (name: ConfigurationName, mastersOnly: boolean): Promise<number[]> => {
    if (name === 'freshgraph') return [one.port];
    if (name === 'freshgraph-cluster') return mastersOnly ? many.masterPorts() : many.ports;
    throw new Error(`--cluster has no cache for ${name}`);
  };
  return {
    version,
    env: (name) => ({
      ...(name === 'freshgraph-cluster' ? { REDIS_CLUSTER_NODES: many.seeds.join(',') } : { REDIS_URL: one.url }),
      CACHE_PREFIX: prefixOf(prefix, name),
    }),
    empty: async (name) => {
      // Replicas follow their masters; FLUSHALL on a replica is refused.
      for (const port of await ports(name, true)) await redisCli(port, 'flushall');
    },
    count: async (name) => {
      let keys = 0;
      for (const port of await ports(name, true)) keys += Number(await redisCli(port, 'dbsize'));
      return keys;
    },
    cpuUs: async (name) => {
      const each = await Promise.all((await ports(name, false)).map(nodeCpuUs));
      return each.reduce((a, b) => a + b, 0);
    },
    close,
  };
}
