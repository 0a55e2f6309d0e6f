import { performance } from 'node:perf_hooks';
import { backoffDelayMs, sleep } from './backoff.js';
import { createEnvelope, parseEnvelope, serializeEnvelope, type Envelope } from './envelope.js';
import type { KeySpace } from './keys.js';
import { CacheCounters, type RequestCacheStats } from './stats.js';
import type { CacheStore, CasOutcome, CasWrite } from './store.js';

/** The subset of pino the engine uses, so the engine does not depend on a logger. */
export interface CacheLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A committed value bound for one key. `data: null` is a tombstone (or, at v 0, "no such row"). */
export interface CacheEntry<T = unknown> {
  readonly key: string;
  readonly version: number;
  readonly data: T | null;
}

/** The store calls the engine makes, as named in logs and to `onStoreCall`. */
export type StoreOp = 'mget' | 'write-through' | 'fill' | 'invalidate';

/**
 * Sees every store call after it settles: its name, how long it took, whether it
 * succeeded and how many keys it named. For metrics; it runs on the hot path, so keep it cheap.
 */
export type StoreCallObserver = (op: StoreOp, durationMs: number, ok: boolean, keyCount: number) => void;

export type CacheRead<T> = { readonly hit: true; readonly envelope: Envelope<T> } | { readonly hit: false };

export interface EntityCacheOptions {
  readonly store: CacheStore;
  readonly keys: KeySpace;
  /** @default 300 */
  readonly ttlSeconds?: number;
  /** XFetch beta; 0 disables early refresh. @default 1 */
  readonly beta?: number;
  /** false: every read misses without touching the store and writes are skipped. @default true */
  readonly enabled?: boolean;
  /** Retries of a failed write-through after the first attempt. @default 3 */
  readonly writeRetries?: number;
  /** @default 25 */
  readonly writeBackoffMs?: number;
  readonly logger: CacheLogger;
  /** Wall clock in ms. @default Date.now */
  readonly now?: () => number;
  /** In (0, 1]. @default Math.random */
  readonly random?: () => number;
  /** @default undefined (nothing observes store calls) */
  readonly onStoreCall?: StoreCallObserver;
}

/** Thrown by guarded store calls; `cause` holds the driver's error. */
export class CacheUnavailableError extends Error {
  override readonly name = 'CacheUnavailableError';
}

/**
 * Policy over a CacheStore: envelopes, the write-through retry loop, fills,
 * and one guard around every store call. Knows nothing of GraphQL or tables.
 */
export class EntityCache {
  readonly counters = new CacheCounters();
  readonly keys: KeySpace;
  readonly store: CacheStore;
  readonly enabled: boolean;
  readonly ttlMs: number;
  readonly beta: number;
  readonly now: () => number;
  readonly random: () => number;
  private readonly writeRetries: number;
  private readonly writeBackoffMs: number;
  private readonly logger: CacheLogger;
  private readonly onStoreCall: StoreCallObserver | undefined;
  private readonly background = new Set<Promise<unknown>>();
  private readonly lastLogged = new Map<string, number>();

  constructor(options: EntityCacheOptions) {
    this.store = options.store;
    this.keys = options.keys;
    this.enabled = options.enabled ?? true;
    this.ttlMs = (options.ttlSeconds ?? 300) * 1000;
    this.beta = options.beta ?? 1;
    this.writeRetries = options.writeRetries ?? 3;
    this.writeBackoffMs = options.writeBackoffMs ?? 25;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? (() => 1 - Math.random());
    this.onStoreCall = options.onStoreCall;
  }

  /**
   * One round trip for all keys. Resolves to undefined when the store failed:
   * the caller then serves from the source (the cache degrades, never fails a read).
   */
  async read<T>(keys: readonly string[], stats?: RequestCacheStats): Promise<CacheRead<T>[] | undefined> {
    if (!this.enabled || keys.length === 0) return keys.map(() => ({ hit: false }));
    if (stats) stats.redisRoundTrips++;
    let raws: (string | null)[];
    try {
      raws = await this.guarded('mget', keys, () => this.store.mget(keys));
    } catch {
      this.counters.readFailures++;
      return undefined;
    }
    return raws.map((raw, i) => {
      if (raw === null) return { hit: false };
      const envelope = parseEnvelope<T>(raw);
      if (envelope === undefined) {
        this.counters.invalidValues++;
        this.logRateLimited('warn', 'invalid-value', { key: keys[i] }, 'cache: stored value is not an envelope; treating it as a miss');
        return { hit: false };
      }
      return { hit: true, envelope };
    });
  }

  /**
   * The write path after a commit: every entry and every related delete in one
   * round trip, retried with jittered exponential backoff. Never throws: the
   * database already holds the truth, so a cache failure is logged and counted
   * and the mutation is still acknowledged. Resolves to whether it landed.
   */
  async writeThrough(entries: readonly CacheEntry[], deletes: readonly string[] = [], loadMs = 1): Promise<boolean> {
    if (!this.enabled || (entries.length === 0 && deletes.length === 0)) return true;
    const writes = entries.map((e) => this.toCasWrite(e, loadMs));
    for (let attempt = 0; ; attempt++) {
      try {
        const outcomes = await this.guarded('write-through', writes.map((w) => w.key), () =>
          this.store.apply({ writes, deletes }),
        );
        this.countOutcomes(outcomes);
        return true;
      } catch (err) {
        if (attempt >= this.writeRetries) {
          this.counters.writeFailures++;
          this.logger.error(
            { err, keys: writes.map((w) => w.key).slice(0, 10), attempts: attempt + 1 },
            'cache: write-through failed after retries; entries stay stale until their TTL or repair',
          );
          return false;
        }
        this.counters.writeRetries++;
        await sleep(backoffDelayMs(attempt, this.writeBackoffMs, this.random));
      }
    }
  }

  /** Backfill after a source load; best effort, one round trip, CAS-guarded like every write. */
  async fill(entries: readonly CacheEntry[], loadMs: number, stats?: RequestCacheStats): Promise<CasOutcome[] | undefined> {
    if (!this.enabled || entries.length === 0) return [];
    if (stats) stats.redisRoundTrips++;
    const writes = entries.map((e) => this.toCasWrite(e, loadMs));
    try {
      const outcomes = await this.guarded('fill', writes.map((w) => w.key), () => this.store.apply({ writes }));
      this.countOutcomes(outcomes);
      return outcomes;
    } catch {
      this.counters.fillFailures++;
      return undefined;
    }
  }

  /** Drops keys that are only hints (secondary lookups); best effort. */
  async invalidate(keys: readonly string[]): Promise<void> {
    if (!this.enabled || keys.length === 0) return;
    try {
      await this.guarded('invalidate', keys, () => this.store.apply({ writes: [], deletes: keys }));
    } catch {
      // A stale hint is verified against the entity on every use; losing this delete is harmless.
    }
  }

  /** Keeps a background task (fill, early refresh) visible to idle() and shutdown. */
  track<T>(task: Promise<T>): Promise<T> {
    const settled = task.then(
      () => undefined,
      () => undefined,
    );
    this.background.add(settled);
    void settled.then(() => this.background.delete(settled));
    return task;
  }

  /** Resolves once every background task started so far has finished. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  private toCasWrite(entry: CacheEntry, loadMs: number): CasWrite {
    const envelope = createEnvelope(entry.version, entry.data, this.now(), this.ttlMs, loadMs);
    return { key: entry.key, value: serializeEnvelope(envelope), version: entry.version, ttlMs: this.ttlMs };
  }

  private countOutcomes(outcomes: readonly CasOutcome[]): void {
    for (const outcome of outcomes) {
      if (outcome === 'written') this.counters.casWritten++;
      else if (outcome === 'refreshed') this.counters.casRefreshed++;
      else this.counters.casRejected++;
    }
  }

  /** The one guard around every store call: names the operation and key, wraps the error, reports to the observer. */
  private async guarded<R>(op: StoreOp, keys: readonly string[], call: () => Promise<R>): Promise<R> {
    const observe = this.onStoreCall;
    const began = observe === undefined ? 0 : performance.now();
    let result: R;
    try {
      result = await call();
    } catch (err) {
      observe?.(op, performance.now() - began, false, keys.length);
      this.logRateLimited('warn', op, { err, op, key: keys[0], keyCount: keys.length }, `cache: ${op} failed`);
      throw new CacheUnavailableError(`cache ${op} failed`, { cause: err });
    }
    observe?.(op, performance.now() - began, true, keys.length);
    return result;
  }

  /** A dead Redis fails every request; one line per second per kind is enough to see it. */
  private logRateLimited(level: 'warn' | 'error', kind: string, obj: object, msg: string): void {
    const now = this.now();
    if (now - (this.lastLogged.get(kind) ?? -Infinity) < 1000) return;
    this.lastLogged.set(kind, now);
    this.logger[level](obj, msg);
  }
}
