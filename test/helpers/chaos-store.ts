import type { CacheStore, CasOutcome, CasWrite, LeaseRequest, StoreBatch } from '../../src/cache/store.js';

/**
 * Wraps a real store and makes chosen calls fail, as a dropped connection
 * would. Faults are injected here, around the real driver, never by mocking it.
 */
export class ChaosStore implements CacheStore {
  readonly kind: string;
  readonly retains: boolean;
  /** Fail this many upcoming apply() calls; Infinity fails all of them. */
  failApplies = 0;
  /** Fail this many upcoming read() calls. */
  failReads = 0;
  applyCalls = 0;
  readCalls = 0;

  constructor(private readonly inner: CacheStore) {
    this.kind = `chaos(${inner.kind})`;
    this.retains = inner.retains;
  }

  async read(keys: readonly string[]): Promise<(string | null)[]> {
    this.readCalls++;
    if (this.failReads > 0) {
      this.failReads--;
      throw new Error('chaos: connection reset while reading');
    }
    return this.inner.read(keys);
  }

  acquireLeases(keys: readonly string[], lease: LeaseRequest): Promise<boolean[]> {
    return this.inner.acquireLeases(keys, lease);
  }

  releaseLeases(keys: readonly string[], token: string): Promise<void> {
    return this.inner.releaseLeases(keys, token);
  }

  async apply(batch: StoreBatch): Promise<CasOutcome[]> {
    this.applyCalls++;
    if (this.failApplies > 0) {
      this.failApplies--;
      throw new Error('chaos: connection reset while writing');
    }
    return this.inner.apply(batch);
  }

  fill(writes: readonly CasWrite[], token: string): Promise<CasOutcome[]> {
    return this.inner.fill(writes, token);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
