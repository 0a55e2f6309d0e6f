import { parseEnvelope } from './envelope.js';
import { casDecision, type CacheStore, type CasOutcome, type StoreBatch } from './store.js';

interface Entry {
  readonly value: string;
  readonly expiresAt: number;
}

export interface MemoryStoreOptions {
  /** Oldest entries are evicted beyond this, as Redis would under maxmemory. @default 100000 */
  readonly maxEntries?: number;
  /** Injected for tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * The embedded default: the same CAS, TTL and tombstone semantics as the Redis
 * store, in the process. Operations complete synchronously, so each is atomic
 * exactly as a Lua script is; they return promises to keep the contract.
 */
export class MemoryStore implements CacheStore {
  readonly kind = 'memory';
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

  async mget(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map((key) => this.get(key));
  }

  async apply(batch: StoreBatch): Promise<CasOutcome[]> {
    const outcomes = batch.writes.map((w) => {
      const current = this.get(w.key);
      const storedVersion = current === null ? undefined : parseEnvelope(current)?.v;
      const outcome = casDecision(storedVersion, w.version);
      if (outcome !== 'rejected') this.set(w.key, w.value, w.ttlMs);
      return outcome;
    });
    for (const key of batch.deletes ?? []) this.entries.delete(key);
    return outcomes;
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

  get size(): number {
    return this.entries.size;
  }

  private get(key: string): string | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry.value;
  }

  private set(key: string, value: string, ttlMs: number): void {
    // Delete first so that Map order stays insertion order: the oldest entry is evicted first.
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
