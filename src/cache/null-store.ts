import type { CacheStore, CasOutcome, CasWrite, LeaseRequest, StoreBatch } from './store.js';

/**
 * CACHE_MODE=off: a store that keeps nothing. Every read misses and every fill
 * lease is granted, so each read goes to the source; writes land nowhere. The
 * engine runs unchanged on it, with no mode checks of its own; what has no
 * purpose without a cache (the outbox, repairs, consistency samples) is simply
 * not wired up (dependencies.ts).
 */
export class NullStore implements CacheStore {
  readonly kind = 'none';

  async read(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map(() => null);
  }

  async acquireLeases(keys: readonly string[], _lease: LeaseRequest): Promise<boolean[]> {
    return keys.map(() => true);
  }

  async apply(batch: StoreBatch): Promise<CasOutcome[]> {
    return batch.writes.map(() => 'written');
  }

  async fill(writes: readonly CasWrite[], _token: string): Promise<CasOutcome[]> {
    return writes.map(() => 'written');
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
