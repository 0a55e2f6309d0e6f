import type { CacheStore, CasOutcome, CasWrite, LeaseRequest, StoreBatch } from './store.js';

/**
 * CACHE_MODE=off: a store that keeps nothing. Every read misses and every fill
 * lease is granted; writes land nowhere. Because it says so (`retains: false`),
 * the engine does not even call it: reads go straight to the source and nothing
 * is serialized for it. What has no purpose without a cache (the outbox,
 * repairs, consistency samples) is simply not wired up (dependencies.ts).
 */
export class NullStore implements CacheStore {
  readonly kind = 'none';
  readonly retains = false;

  async read(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map(() => null);
  }

  async acquireLeases(keys: readonly string[], _lease: LeaseRequest): Promise<boolean[]> {
    return keys.map(() => true);
  }

  async releaseLeases(_keys: readonly string[], _token: string): Promise<void> {}

  async apply(batch: StoreBatch): Promise<CasOutcome[]> {
    return batch.writes.map(() => 'written');
  }

  async fill(writes: readonly CasWrite[], _token: string): Promise<CasOutcome[]> {
    return writes.map(() => 'written');
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
