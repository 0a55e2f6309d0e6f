import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('Redis Cluster configuration', () => {
  it('is off by default, and confirms write-throughs by one replica within 100 ms when on', () => {
    expect(loadConfig({})).toMatchObject({ redisClusterNodes: undefined, redisClusterWaitReplicas: 1, redisClusterWaitTimeoutMs: 100 });
    const config = loadConfig({ REDIS_CLUSTER_NODES: ' 10.0.0.5:7000, redis-b.internal:7001,[fd00::7]:7002, ' });
    expect(config.redisClusterNodes).toEqual([
      { host: '10.0.0.5', port: 7000 },
      { host: 'redis-b.internal', port: 7001 },
      { host: 'fd00::7', port: 7002 },
    ]);
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:1', REDIS_CLUSTER_WAIT_REPLICAS: '0' }).redisClusterWaitReplicas).toBe(0);
  });

  it.each([
    ['a seed without a port', { REDIS_CLUSTER_NODES: 'redis-a' }, /REDIS_CLUSTER_NODES.*host:port/],
    ['a port out of range', { REDIS_CLUSTER_NODES: 'redis-a:70000' }, /REDIS_CLUSTER_NODES.*1-65535/],
    ['no seed at all', { REDIS_CLUSTER_NODES: ' , ' }, /REDIS_CLUSTER_NODES: name at least one host:port/],
    ['both REDIS_URL and REDIS_CLUSTER_NODES', { REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r:7000' }, /either REDIS_URL .* or REDIS_CLUSTER_NODES .*, not both/],
    ['a replica wait as long as the command timeout', { REDIS_CLUSTER_WAIT_TIMEOUT_MS: '500' }, /REDIS_CLUSTER_WAIT_TIMEOUT_MS: must be below REDIS_COMMAND_TIMEOUT_MS \(500\)/],
  ])('refuses %s with a message naming the variable', (_label, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
