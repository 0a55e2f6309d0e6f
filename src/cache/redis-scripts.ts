import type { Cluster, Redis, Result } from 'ioredis';
import { ACQUIRE_LEASES_LUA, FILL_LUA, WRITE_THROUGH_LUA } from './cas-script.js';
import type { CasOutcome } from './store.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See cas-script.ts. */
    writeThrough(key: string, leaseKey: string, value: string, version: number, ttlMs: number): Result<number, Context>;
    fillWithLease(key: string, leaseKey: string, value: string, version: number, ttlMs: number, token: string): Result<number, Context>;
    acquireLeases(numKeys: number, ...args: (string | number)[]): Result<number[], Context>;
  }
}

/**
 * Registers the cache's Lua scripts on a client (one Redis or a Cluster), so
 * that both stores run exactly the same scripts; ioredis sends EVALSHA and
 * falls back to EVAL once per connection.
 */
export function defineCacheScripts(client: Redis | Cluster): void {
  client.defineCommand('writeThrough', { numberOfKeys: 2, lua: WRITE_THROUGH_LUA });
  client.defineCommand('fillWithLease', { numberOfKeys: 2, lua: FILL_LUA });
  // Variable key counts: the count is the first argument. On a cluster, all keys of one call share a slot.
  client.defineCommand('acquireLeases', { lua: ACQUIRE_LEASES_LUA });
}

const OUTCOMES: Record<number, CasOutcome> = { 0: 'rejected', 1: 'written', 2: 'refreshed', 3: 'lease-lost' };

/** The outcome a CAS script replied. */
export function casOutcomeOf(reply: unknown): CasOutcome {
  const outcome = OUTCOMES[Number(reply)];
  if (outcome === undefined) throw new Error(`Unexpected CAS reply ${String(reply)}`);
  return outcome;
}
