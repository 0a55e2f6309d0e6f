/**
 * The storage driver contract: raw strings in, raw strings out. Policy
 * (envelopes, retries, leases' timing, early expiration) lives above this
 * line; every implementation must pass test/contract/cache-store.test.ts.
 */

/** One version-guarded write: lands only if the stored envelope's `v` is not higher. */
export interface CasWrite {
  readonly key: string;
  /** A serialized envelope. */
  readonly value: string;
  /** The envelope's `v`, passed separately so the store need not parse `value`. */
  readonly version: number;
  /** Safety-net TTL; every write sets one. */
  readonly ttlMs: number;
}

/**
 * - `written`: the key was missing, invalid or held a lower version;
 * - `refreshed`: it held the same version, which was rewritten with a new TTL;
 * - `rejected`: it held a higher version and was left alone;
 * - `lease-lost`: a fill whose lease had been cancelled by a write, or had expired; nothing written.
 */
export type CasOutcome = 'written' | 'refreshed' | 'rejected' | 'lease-lost';

export interface StoreBatch {
  /** A committed change's CAS writes; each also cancels any fill lease on its key. */
  readonly writes: readonly CasWrite[];
  /**
   * Related keys to drop in the same round trip (stale secondary lookups), each
   * with its fill lease: a fill that loaded before the change cannot land after it.
   */
  readonly deletes?: readonly string[];
}

/** A fill lease request: who asks, and for how long the lease may be held. */
export interface LeaseRequest {
  readonly token: string;
  readonly ttlMs: number;
}

/**
 * "One round trip" below means one per server the keys live on, all sent at
 * once: on Redis Cluster, one pipeline per master, in parallel.
 */
export interface CacheStore {
  /** `redis`, `redis-cluster`, `memory` or `none`, for logs. */
  readonly kind: string;
  /**
   * Whether the store keeps what is written: false only for the null store of
   * CACHE_MODE=off, which the engine then never calls (every read goes to the
   * source, nothing is serialized for it).
   */
  readonly retains: boolean;
  /** Values in key order, null where missing: one MGET. */
  read(keys: readonly string[]): Promise<(string | null)[]>;
  /** Takes the fill leases of keys that have none (true where taken), whatever their values; one round trip. */
  acquireLeases(keys: readonly string[], lease: LeaseRequest): Promise<boolean[]>;
  /** Gives back the leases `token` still holds on these keys (a load that failed); others' leases stay. One round trip. */
  releaseLeases(keys: readonly string[], token: string): Promise<void>;
  /**
   * Every CAS and delete of the batch in one round trip; outcomes in write order.
   * Rejects with UnconfirmedWriteError when the writes landed but are not final yet.
   */
  apply(batch: StoreBatch): Promise<CasOutcome[]>;
  /** CAS writes that land only while `token` still holds each key's lease, which they release; one round trip. */
  fill(writes: readonly CasWrite[], token: string): Promise<CasOutcome[]>;
  /**
   * Values written before this wall-clock time (epoch ms) may be older than
   * writes the server acknowledged: it came back with older data (a restart
   * from a snapshot, a replica promoted in its place). The engine serves none
   * of them, as if they were missing. undefined: every stored value may be served.
   */
  readonly trustedSince?: number;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Thrown by `apply` when the store reached its server and the writes were
 * applied there, but not yet where they would survive a failover (a Redis
 * Cluster master whose replicas did not confirm them in time). The write
 * counts as failed, like any other: its keys are read from the source and the
 * outbox repairs it. The engine does not retry it at once (a retry would only
 * wait for the same replica again), and the server answered, so it is no
 * reason to open the circuit breaker.
 */
export class UnconfirmedWriteError extends Error {
  override readonly name = 'UnconfirmedWriteError';
}

/**
 * The rule both stores implement, shared so the in-process store cannot drift
 * from the Lua script: a stored value that is not a well-formed envelope has
 * no version and loses to any write.
 */
export function casDecision(storedVersion: number | undefined, incoming: number): Exclude<CasOutcome, 'lease-lost'> {
  if (storedVersion === undefined || storedVersion < incoming) return 'written';
  if (storedVersion === incoming) return 'refreshed';
  return 'rejected';
}
