/**
 * The storage driver contract: raw strings in, raw strings out. Policy
 * (envelopes, retries, early expiration) lives above this line; every
 * implementation must pass test/contract/cache-store.contract.ts.
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
 * - `rejected`: it held a higher version and was left alone.
 */
export type CasOutcome = 'written' | 'refreshed' | 'rejected';

export interface StoreBatch {
  readonly writes: readonly CasWrite[];
  /** Related keys to drop in the same round trip (stale secondary lookups). */
  readonly deletes?: readonly string[];
}

export interface CacheStore {
  /** `redis` or `memory`, for logs. */
  readonly kind: string;
  /** Values in key order, null where missing; one round trip. */
  mget(keys: readonly string[]): Promise<(string | null)[]>;
  /** Every CAS and delete of the batch in one round trip; outcomes in write order. */
  apply(batch: StoreBatch): Promise<CasOutcome[]>;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The rule both stores implement, shared so the in-process store cannot drift
 * from the Lua script: a stored value that is not a well-formed envelope has
 * no version and loses to any write.
 */
export function casDecision(storedVersion: number | undefined, incoming: number): CasOutcome {
  if (storedVersion === undefined || storedVersion < incoming) return 'written';
  if (storedVersion === incoming) return 'refreshed';
  return 'rejected';
}
