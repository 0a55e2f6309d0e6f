import { randomBytes } from 'node:crypto';
import { backoffDelayMs, sleep } from './backoff.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { createEnvelope, parseEnvelope, serializeEnvelope, type Envelope } from './envelope.js';
import type { KeySpace } from './keys.js';
import { CacheCounters, type RequestCacheStats } from './stats.js';
import { UnconfirmedWriteError, type CacheStore, type CasOutcome, type CasWrite } from './store.js';

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

/**
 * What a read found for one key. On a miss, `lease` says who may fill it:
 * `granted` to this reader, `held` by another, or `none` (the cache could not
 * be asked, or must not be trusted for this key right now).
 */
export type CacheRead<T> =
  | { readonly hit: true; readonly envelope: Envelope<T> }
  | { readonly hit: false; readonly lease: 'granted' | 'held' | 'none' };

export interface BatchRead<T> {
  /** undefined when the store could not be read: serve everything from the source. */
  readonly reads: CacheRead<T>[] | undefined;
  /** The token of every lease granted by this read (empty when none was asked for); a fill must present it. */
  readonly token: string;
}

export interface WriteThroughOptions {
  /** Related keys to drop in the same round trip (stale secondary lookups). @default [] */
  readonly deletes?: readonly string[];
  /** How long producing the values took: XFetch's recompute cost. @default 1 */
  readonly loadMs?: number;
  /** Attempts after the first. @default the cache's writeRetries */
  readonly retries?: number;
}

/** The store calls the engine makes, as named in logs and to `onStoreCall`. */
export type StoreOp = 'read' | 'lease' | 'peek' | 'write-through' | 'fill' | 'invalidate';

/**
 * Sees every store call after it settles: its name, how long it took, whether it
 * succeeded and how many keys it named. For metrics; it runs on the hot path, so keep it cheap.
 */
export type StoreCallObserver = (op: StoreOp, durationMs: number, ok: boolean, keyCount: number) => void;

export interface EntityCacheOptions {
  readonly store: CacheStore;
  readonly keys: KeySpace;
  /** @default 300 */
  readonly ttlSeconds?: number;
  /**
   * TTL of a "no such row" entry (version 0), kept short so that reads of ids
   * that do not exist cannot fill the store for long; capped at `ttlSeconds`. @default 30
   */
  readonly absentTtlSeconds?: number;
  /** XFetch beta; 0 disables early refresh. @default 1 */
  readonly beta?: number;
  /** Retries of a failed write-through after the first attempt. @default 3 */
  readonly writeRetries?: number;
  /** @default 25 */
  readonly writeBackoffMs?: number;
  /** How long a fill lease lives; a load slower than this loses its fill (safely). @default 2000 */
  readonly leaseTtlMs?: number;
  /**
   * How long a reader waits for another reader's fill, counted from when it first
   * found that reader's lease; then it loads itself, without filling. A lease never
   * outlives `leaseTtlMs`, so the default waits exactly as long as one can hold. @default leaseTtlMs
   */
  readonly leaseWaitMs?: number;
  /** @default 3 consecutive failures */
  readonly breakerFailureThreshold?: number;
  /** @default 1000 */
  readonly breakerOpenMs?: number;
  readonly logger: CacheLogger;
  readonly onStoreCall?: StoreCallObserver;
  /** Wall clock in ms. @default Date.now */
  readonly now?: () => number;
  /** In (0, 1]. @default Math.random */
  readonly random?: () => number;
}

/** Thrown by guarded store calls; `cause` holds the driver's error. */
export class CacheUnavailableError extends Error {
  override readonly name = 'CacheUnavailableError';
}

/**
 * Policy over a CacheStore: envelopes, fill leases, the write-through retry
 * loop, a circuit breaker, and one guard around every store call. Knows
 * nothing of GraphQL or tables.
 */
export class EntityCache {
  readonly counters = new CacheCounters();
  readonly keys: KeySpace;
  readonly store: CacheStore;
  readonly ttlMs: number;
  private readonly absentTtlMs: number;
  readonly beta: number;
  readonly leaseWaitMs: number;
  readonly breaker: CircuitBreaker;
  readonly now: () => number;
  readonly random: () => number;
  private readonly leaseTtlMs: number;
  private readonly writeRetries: number;
  private readonly writeBackoffMs: number;
  private readonly logger: CacheLogger;
  private readonly onStoreCall: StoreCallObserver | undefined;
  private readonly background = new Set<Promise<unknown>>();
  private readonly lastLogged = new Map<string, number>();
  /** Keys whose latest write-through failed here: read from the source until repaired. */
  private readonly suspect = new Set<string>();
  /** Keys whose write-through failed on some instance (as the outbox shows): likewise. */
  private pendingElsewhere: ReadonlySet<string> = new Set();
  private readonly instanceId = randomBytes(6).toString('base64url');
  /** The store keeps nothing (CACHE_MODE=off): it is never asked, and reads go straight to their source. */
  readonly bypass: boolean;
  private leaseSeq = 0;

  constructor(options: EntityCacheOptions) {
    this.store = options.store;
    this.keys = options.keys;
    // A store that keeps nothing (CACHE_MODE=off) is never asked: every read goes to the source.
    this.bypass = !options.store.retains;
    this.ttlMs = (options.ttlSeconds ?? 300) * 1000;
    this.absentTtlMs = Math.min(this.ttlMs, (options.absentTtlSeconds ?? 30) * 1000);
    this.beta = options.beta ?? 1;
    this.writeRetries = options.writeRetries ?? 3;
    this.writeBackoffMs = options.writeBackoffMs ?? 25;
    this.leaseTtlMs = options.leaseTtlMs ?? 2000;
    this.leaseWaitMs = options.leaseWaitMs ?? this.leaseTtlMs;
    this.logger = options.logger;
    this.onStoreCall = options.onStoreCall;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? (() => 1 - Math.random());
    this.breaker = new CircuitBreaker({
      failureThreshold: options.breakerFailureThreshold,
      openMs: options.breakerOpenMs,
      now: this.now,
    });
  }

  /**
   * One `MGET` for all keys; when some miss (or hold something that is not an
   * envelope) and `lease` is set, one more round trip takes their fill leases.
   * A warm batch is a plain `MGET`, the cheapest read Redis has. `reads` is
   * undefined when the store failed: the caller then serves from the source
   * (the cache degrades, never fails a read).
   */
  async read<T>(keys: readonly string[], stats?: RequestCacheStats): Promise<BatchRead<T>> {
    if (keys.length === 0) return { reads: [], token: '' };
    if (this.bypass) return { reads: undefined, token: '' };
    const trusted =
      this.suspect.size === 0 && this.pendingElsewhere.size === 0
        ? keys
        : keys.filter((k) => !this.suspect.has(k) && !this.pendingElsewhere.has(k));
    if (stats && trusted.length > 0) stats.redisRoundTrips++;
    let raws: (string | null)[];
    try {
      raws = trusted.length === 0 ? [] : await this.guarded('read', trusted, () => this.store.read(trusted));
    } catch {
      this.counters.readFailures++;
      return { reads: undefined, token: '' };
    }
    const byKey = trusted === keys ? undefined : new Map(trusted.map((k, i) => [k, raws[i]]));
    const missed: number[] = [];
    const reads = keys.map((key, i): CacheRead<T> => {
      const raw = byKey === undefined ? raws[i] : byKey.get(key);
      if (raw === undefined) return { hit: false, lease: 'none' }; // untrusted: the source answers, nothing is filled
      if (raw !== null) {
        const envelope = parseEnvelope<T>(raw);
        if (envelope !== undefined) return { hit: true, envelope };
        this.counters.invalidValues++;
        this.logRateLimited('warn', 'invalid-value', { key }, 'cache: stored value is not an envelope; treating it as a miss');
      }
      missed.push(i);
      return { hit: false, lease: 'none' };
    });
    if (missed.length === 0) return { reads, token: '' };
    const token = this.newToken();
    const granted = await this.acquireLeases(missed.map((i) => keys[i] as string), token, stats);
    missed.forEach((slot, j) => (reads[slot] = { hit: false, lease: granted[j] ? 'granted' : 'held' }));
    return { reads, token };
  }

  /** The envelopes stored now, without leases or suspicion (for monitoring); undefined if unreadable. */
  async peek<T>(keys: readonly string[]): Promise<(Envelope<T> | null)[] | undefined> {
    if (keys.length === 0 || this.bypass) return keys.map(() => null);
    try {
      const raws = await this.guarded('peek', keys, () => this.store.read(keys));
      return raws.map((raw) => (typeof raw === 'string' ? (parseEnvelope<T>(raw) ?? null) : null));
    } catch {
      return undefined;
    }
  }

  /** Takes fill leases (for an early refresh, or over a malformed value); false where another holds one. */
  async acquireLeases(keys: readonly string[], token: string, stats?: RequestCacheStats): Promise<boolean[]> {
    if (keys.length === 0 || this.bypass) return keys.map(() => false);
    if (stats) stats.redisRoundTrips++;
    try {
      return await this.guarded('lease', keys, () => this.store.acquireLeases(keys, { token, ttlMs: this.leaseTtlMs }));
    } catch {
      return keys.map(() => false);
    }
  }

  newToken(): string {
    return `${this.instanceId}.${(this.leaseSeq++).toString(36)}`;
  }

  /**
   * The write path after a commit: every entry and every related delete in one
   * round trip, each entry cancelling its key's fill lease, retried with
   * jittered exponential backoff while the circuit is closed. Never throws:
   * the database already holds the truth. Resolves to whether it landed.
   */
  async writeThrough(entries: readonly CacheEntry[], options: WriteThroughOptions = {}): Promise<boolean> {
    const { deletes = [], loadMs = 1, retries = this.writeRetries } = options;
    if (this.bypass || (entries.length === 0 && deletes.length === 0)) return true;
    const writes = entries.map((e) => this.toCasWrite(e, loadMs));
    const keys = writes.map((w) => w.key);
    for (let attempt = 0; ; attempt++) {
      try {
        const outcomes = await this.guarded('write-through', keys, () => this.store.apply({ writes, deletes }));
        this.countOutcomes(outcomes);
        return true;
      } catch (err) {
        const unconfirmed = err instanceof CacheUnavailableError && err.cause instanceof UnconfirmedWriteError;
        if (attempt >= retries || this.breaker.state === 'open' || unconfirmed) {
          this.counters.writeFailures++;
          this.logRateLimited(
            'error',
            'write-failure',
            { err, keys: keys.slice(0, 10), attempts: attempt + 1 },
            'cache: write-through failed; these keys are read from the database until repaired',
          );
          return false;
        }
        this.counters.writeRetries++;
        await sleep(backoffDelayMs(attempt, this.writeBackoffMs, this.random));
      }
    }
  }

  /** Backfill after a source load, landing only where `token` still holds the lease; one round trip. */
  async fill(entries: readonly CacheEntry[], loadMs: number, token: string): Promise<CasOutcome[] | undefined> {
    if (entries.length === 0 || this.bypass) return [];
    const writes = entries.map((e) => this.toCasWrite(e, loadMs));
    try {
      const outcomes = await this.guarded('fill', writes.map((w) => w.key), () => this.store.fill(writes, token));
      this.countOutcomes(outcomes);
      return outcomes;
    } catch {
      this.counters.fillFailures++;
      return undefined;
    }
  }

  /** Drops keys that are only hints (secondary lookups); best effort. */
  async invalidate(keys: readonly string[]): Promise<void> {
    if (keys.length === 0 || this.bypass) return;
    try {
      await this.guarded('invalidate', keys, () => this.store.apply({ writes: [], deletes: keys }));
    } catch {
      // A stale hint is verified against the entity on every use; losing this delete is harmless.
    }
  }

  /** This instance's write to these keys failed: serve them from the source until they are repaired. */
  markSuspect(keys: readonly string[]): void {
    for (const key of keys) this.suspect.add(key);
  }

  clearSuspect(keys: readonly string[]): void {
    for (const key of keys) this.suspect.delete(key);
  }

  /** Replaces the set of keys with a write pending repair anywhere in the fleet. */
  setPendingElsewhere(keys: ReadonlySet<string>): void {
    this.pendingElsewhere = keys;
  }

  get suspectCount(): number {
    return this.suspect.size;
  }

  get pendingElsewhereCount(): number {
    return this.pendingElsewhere.size;
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
    // Only "no such row" is short-lived; a tombstone (data null at version >= 1) guards a deletion for the full TTL.
    const ttlMs = entry.version === 0 ? this.absentTtlMs : this.ttlMs;
    const envelope = createEnvelope(entry.version, entry.data, this.now(), ttlMs, loadMs);
    return { key: entry.key, value: serializeEnvelope(envelope), version: entry.version, ttlMs };
  }

  private countOutcomes(outcomes: readonly CasOutcome[]): void {
    for (const outcome of outcomes) {
      if (outcome === 'written') this.counters.casWritten++;
      else if (outcome === 'refreshed') this.counters.casRefreshed++;
      else if (outcome === 'rejected') this.counters.casRejected++;
      else this.counters.leaseLost++;
    }
  }

  /**
   * The one guard around every store call: honours the circuit breaker, times
   * the call, names the operation and key in the log, and wraps the error.
   */
  private async guarded<R>(op: StoreOp, keys: readonly string[], call: () => Promise<R>): Promise<R> {
    if (!this.breaker.allow()) {
      this.counters.breakerRejections++;
      throw new CacheUnavailableError(`cache ${op} skipped: circuit open`);
    }
    const observe = this.onStoreCall;
    const started = observe === undefined ? 0 : performance.now();
    try {
      const result = await call();
      this.breaker.success();
      observe?.(op, performance.now() - started, true, keys.length);
      return result;
    } catch (err) {
      // A write the server applied but could not yet vouch for says nothing against the server.
      if (err instanceof UnconfirmedWriteError) this.breaker.success();
      else this.breaker.failure();
      observe?.(op, performance.now() - started, false, keys.length);
      this.logRateLimited('warn', op, { err, op, key: keys[0], keyCount: keys.length }, `cache: ${op} failed`);
      throw new CacheUnavailableError(`cache ${op} failed`, { cause: err });
    }
  }

  /** A dead Redis fails every request; one line per second per kind is enough to see it. */
  private logRateLimited(level: 'warn' | 'error', kind: string, obj: object, msg: string): void {
    const now = this.now();
    if (now - (this.lastLogged.get(kind) ?? -Infinity) < 1000) return;
    this.lastLogged.set(kind, now);
    this.logger[level](obj, msg);
  }
}
