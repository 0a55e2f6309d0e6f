import type { Cluster, Redis, Result } from 'ioredis';
import { ACQUIRE_LEASES_LUA, CAS_FILL_LUA, CAS_WRITE_LUA, RELEASE_LEASES_LUA } from './cas-script.js';
import type { CasOutcome } from './store.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See cas-script.ts. */
    casWrite(key: string, leaseKey: string, value: string, version: number, ttlMs: number): Result<number, Context>;
    casFill(key: string, leaseKey: string, value: string, version: number, ttlMs: number, token: string): Result<number, Context>;
    acquireLeases(numKeys: number, ...args: (string | number)[]): Result<number[], Context>;
    releaseLeases(numKeys: number, ...args: string[]): Result<number, Context>;
    /** See READ_VALUES_LUA. */
    readValues(...keys: string[]): Result<(string | null)[], Context>;
    /** See EPOCH_LUA. */
    checkEpoch(key: string, generation: string, nowMs: number, ttlMs: number): Result<string, Context>;
  }
}

/**
 * Registers the cache's Lua scripts on a client (one Redis or a Cluster), so
 * that both stores run exactly the same scripts; ioredis sends EVALSHA and
 * falls back to EVAL once per connection.
 */
export function defineCacheScripts(client: Redis | Cluster): void {
  client.defineCommand('casWrite', { numberOfKeys: 2, lua: CAS_WRITE_LUA });
  client.defineCommand('casFill', { numberOfKeys: 2, lua: CAS_FILL_LUA });
  // Variable key counts: the count is the first argument. On a cluster, all keys of one call share a slot.
  client.defineCommand('acquireLeases', { lua: ACQUIRE_LEASES_LUA });
  client.defineCommand('releaseLeases', { lua: RELEASE_LEASES_LUA });
}

/**
 * The values of many keys of one Redis Cluster master, in one command: what
 * MGET is on one Redis, where MGET may not span slots. The keys come as
 * arguments, not KEYS (declared keys must share one slot); `allow-cross-slot-keys`
 * (Redis 7.0+) lets the script read any key this node serves, and `no-writes`
 * says it only reads. Each GET is checked as if sent alone: a key whose slot
 * this node does not serve, or that has left a migrating slot (ASK or MOVED
 * for a plain GET), aborts the whole script with an error ("Script attempted
 * to access a non local key"), never a wrong value.
 */
const READ_VALUES_LUA = `#!lua flags=no-writes,allow-cross-slot-keys
local values = {}
for i = 1, #ARGV do values[i] = redis.call('GET', ARGV[i]) end
return values`;

/** Registers the Redis Cluster store's read script on a master connection. */
export function defineReadScript(node: Redis): void {
  node.defineCommand('readValues', { numberOfKeys: 0, lua: READ_VALUES_LUA });
}

/**
 * The cache's epoch on one Redis: which Redis process (run) the stored values
 * were written in, and since when (epoch ms) they are trusted. KEYS[1] the
 * epoch key; ARGV[1] a new generation id, ARGV[2] now, ARGV[3] the key's TTL.
 *
 * A Redis that restarts gets a new run_id, and so does a replica promoted in
 * its place; either may hold older values than the ones acknowledged before
 * (a snapshot taken earlier, a replica that missed the last writes), and the
 * epoch key they hold was written by another run. So: an epoch written by
 * this run is kept (its TTL renewed) and returned; one written by another run,
 * or none at all (a fresh Redis, an evicted key), is replaced by a new one
 * trusting only what is written from now on. Atomic, so that instances
 * checking together agree on one epoch. A replica is refused: it may lag.
 */
const EPOCH_LUA = `
if not string.find(redis.call('INFO', 'replication'), 'role:master', 1, true) then
  return redis.error_reply('FGREPLICA this Redis is a replica, which may lag behind its master; point the cache at the master')
end
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local raw = redis.call('GET', KEYS[1])
if raw then
  local ok, epoch = pcall(cjson.decode, raw)
  if ok and type(epoch) == 'table' and epoch['run'] == run and type(epoch['since']) == 'number' then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return raw
  end
end
raw = cjson.encode({ generation = ARGV[1], run = run, since = tonumber(ARGV[2]) })
redis.call('SET', KEYS[1], raw, 'PX', ARGV[3])
return raw`;

/** Registers the single-Redis store's epoch script. */
export function defineEpochScript(client: Redis): void {
  client.defineCommand('checkEpoch', { numberOfKeys: 1, lua: EPOCH_LUA });
}

const OUTCOMES: Record<number, CasOutcome> = { 0: 'rejected', 1: 'written', 2: 'refreshed', 3: 'lease-lost' };

/** The outcome a CAS script replied. */
export function casOutcomeOf(reply: unknown): CasOutcome {
  const outcome = OUTCOMES[Number(reply)];
  if (outcome === undefined) throw new Error(`Unexpected CAS reply ${String(reply)}`);
  return outcome;
}
