import { parseEnvelope } from './envelope.js';
import { leaseKeyOf } from './keys.js';
import { casDecision, type CacheStore, type CasOutcome, type CasWrite, type LeaseRequest, type StoreBatch } from './store.js';

interface Entry {
  readonly value: string;
  readonly expiresAt: number;
}

export interface MemoryStoreOptions {
  /**
   * Beyond this many entries the least recently used one is evicted, as Redis
   * does under `maxmemory` with an LRU policy. @default 100000
   */
  readonly maxEntries?: number;
  /** Injected for tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * The embedded default: the same CAS, lease, TTL and tombstone semantics as the
 * Redis store, in the process. Each operation completes synchronously, so it is
 * atomic exactly as a Lua script is; they return promises to keep the contract.
 */
export class MemoryStore implements CacheStore {
  readonly kind = 'memory';
  readonly retains = true;
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  async read(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map((key) => this.get(key));
  }

  async acquireLeases(keys: readonly string[], lease: LeaseRequest): Promise<boolean[]> {
    return keys.map((key) => this.setIfAbsent(leaseKeyOf(key), lease.token, lease.ttlMs));
  }

  async releaseLeases(keys: readonly string[], token: string): Promise<void> {
    for (const key of keys) if (this.get(leaseKeyOf(key)) === token) this.entries.delete(leaseKeyOf(key));
  }

  async apply(batch: StoreBatch): Promise<CasOutcome[]> {
    const outcomes = batch.writes.map((w) => {
      this.entries.delete(leaseKeyOf(w.key));
      return this.cas(w);
    });
    for (const key of batch.deletes ?? []) {
      this.entries.delete(key);
      this.entries.delete(leaseKeyOf(key));
    }
    return outcomes;
  }

  async fill(writes: readonly CasWrite[], token: string): Promise<CasOutcome[]> {
    return writes.map((w) => {
      const leaseKey = leaseKeyOf(w.key);
      if (this.get(leaseKey) !== token) return 'lease-lost';
      this.entries.delete(leaseKey);
      return this.cas(w);
    });
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  /** Remaining TTL in ms, -2 when missing (as Redis PTTL answers); for tests. */
  pttl(key: string): number {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt <= this.now()) return -2;
    return entry.expiresAt - this.now();
  }

  /** Stores a raw value without any check, as a foreign writer might; for tests. */
  rawSet(key: string, value: string, ttlMs: number): void {
    this.set(key, value, ttlMs);
  }

  /** Removes a key as an eviction would; for tests. */
  evict(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private cas(w: CasWrite): CasOutcome {
    const current = this.get(w.key);
    const storedVersion = current === null ? undefined : parseEnvelope(current)?.v;
    const outcome = casDecision(storedVersion, w.version);
    if (outcome !== 'rejected') this.set(w.key, w.value, w.ttlMs);
    return outcome;
  }

  private setIfAbsent(key: string, value: string, ttlMs: number): boolean {
    if (this.get(key) !== null) return false;
    this.set(key, value, ttlMs);
    return true;
  }

  private get(key: string): string | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return null;
    }
    // Map order is recency order: a hit moves the entry to the end (no allocation), so
    // the first entry is always the least recently used and eviction stays O(1).
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  private set(key: string, value: string, ttlMs: number): void {
    // Delete first so that the written entry becomes the most recently used.
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
