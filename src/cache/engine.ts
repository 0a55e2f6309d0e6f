import { BackgroundTasks } from './background.js';
import { backoffDelayMs, sleep } from './backoff.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { createEnvelope, parseEnvelope, serializeEnvelope, type Envelope } from './envelope.js';
import { CacheUnavailableError, GuardedStore, type CacheLogger, type StoreCallObserver } from './guarded-store.js';
import { KeyTrust } from './key-trust.js';
import type { KeySpace } from './keys.js';
import { LeaseTokens } from './lease-tokens.js';
import { CacheMeter, type RequestCacheStats } from './stats.js';
import { UnconfirmedWriteError, type CacheStore, type CasOutcome, type CasWrite } from './store.js';
import { TtlPolicy } from './ttl-policy.js';

export { CacheUnavailableError, type CacheLogger, type StoreCallObserver, type StoreOp } from './guarded-store.js';

/** A committed value bound for one key (an entity's row or a list's window). `data: null` is a tombstone (or, at v 0, "no such value"). */
export interface CacheEntry<T = unknown> {
  readonly key: string;
  readonly version: number;
  readonly data: T | null;
  /** The shape `data` has (see Envelope.s). @default none */
  readonly shape?: string;
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

export interface CacheWriteOptions {
  /** Related keys to drop in the same round trip (stale secondary lookups). @default [] */
  readonly deletes?: readonly string[];
  /** How long producing the values took: XFetch's recompute cost. @default 1 */
  readonly loadMs?: number;
  /** Attempts after the first. @default the engine's writeRetries */
  readonly retries?: number;
}

export interface CacheEngineOptions {
  readonly store: CacheStore;
  readonly keys: KeySpace;
  /** @default 300 */
  readonly ttlSeconds?: number;
  /**
   * TTL of a "no such value" entry (version 0), kept short so that reads of ids
   * that do not exist cannot fill the store for long; capped at `ttlSeconds`. @default 30
   */
  readonly absentTtlSeconds?: number;
  /** XFetch beta; 0 disables early refresh. @default 1 */
  readonly beta?: number;
  /** Retries of a failed write after the first attempt. @default 3 */
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

/**
 * The cache's policy over a store, for every kind of cached value (entities,
 * lists, lookup hints): envelopes and their TTLs, fill leases, the retry loop
 * of a committed change's write, which keys may be trusted, and one guard
 * around every store call. Knows nothing of GraphQL or tables. Its parts:
 * GuardedStore (breaker, timing, logs), KeyTrust (suspect keys), TtlPolicy,
 * LeaseTokens, BackgroundTasks and the CacheMeter (every counter).
 */
export class CacheEngine {
  readonly keys: KeySpace;
  readonly meter = new CacheMeter();
  readonly trust = new KeyTrust();
  readonly background = new BackgroundTasks();
  readonly ttl: TtlPolicy;
  readonly beta: number;
  readonly leaseWaitMs: number;
  readonly now: () => number;
  readonly random: () => number;
  private readonly guard: GuardedStore;
  private readonly tokens = new LeaseTokens();
  private readonly leaseTtlMs: number;
  private readonly writeRetries: number;
  private readonly writeBackoffMs: number;
  private since: { readonly ms: number; readonly iso: string } | undefined;

  constructor(options: CacheEngineOptions) {
    this.keys = options.keys;
    this.ttl = new TtlPolicy(options.ttlSeconds ?? 300, options.absentTtlSeconds ?? 30);
    this.beta = options.beta ?? 1;
    this.writeRetries = options.writeRetries ?? 3;
    this.writeBackoffMs = options.writeBackoffMs ?? 25;
    this.leaseTtlMs = options.leaseTtlMs ?? 2000;
    this.leaseWaitMs = options.leaseWaitMs ?? this.leaseTtlMs;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? (() => 1 - Math.random());
    this.guard = new GuardedStore({
      store: options.store,
      meter: this.meter,
      logger: options.logger,
      onStoreCall: options.onStoreCall,
      breakerFailureThreshold: options.breakerFailureThreshold,
      breakerOpenMs: options.breakerOpenMs,
      now: this.now,
    });
  }

  get store(): CacheStore {
    return this.guard.store;
  }

  get breaker(): CircuitBreaker {
    return this.guard.breaker;
  }

  /** The process-wide counters (for metrics and tests), written only by the meter. */
  get counters() {
    return this.meter.counters;
  }

  /**
   * One `MGET` for all keys; when some miss (or hold something that is not an
   * envelope), one more round trip takes their fill leases. A warm batch is a
   * plain `MGET`, the cheapest read Redis has. `reads` is undefined when the
   * store failed: the caller then serves from the source (the cache degrades,
   * never fails a read). A key the cache must not be trusted for is not asked.
   */
  async read<T>(keys: readonly string[], stats?: RequestCacheStats, shape?: string): Promise<BatchRead<T>> {
    if (keys.length === 0) return { reads: [], token: '' };
    const { trust } = this;
    const trusted = trust.all ? keys : keys.filter((k) => trust.trusts(k));
    let raws: (string | null)[];
    try {
      if (trusted.length === 0) raws = [];
      else {
        this.meter.roundTrip(stats);
        raws = await this.guard.call('read', trusted, (store) => store.read(trusted));
      }
    } catch {
      this.meter.readFailure();
      return { reads: undefined, token: '' };
    }
    const byKey = trusted === keys ? undefined : new Map(trusted.map((k, i) => [k, raws[i]]));
    const since = this.trustedSince();
    const missed: number[] = [];
    const reads = keys.map((key, i): CacheRead<T> => {
      const raw = byKey === undefined ? raws[i] : byKey.get(key);
      if (raw === undefined) return { hit: false, lease: 'none' }; // untrusted: the source answers, nothing is filled
      if (raw !== null) {
        const envelope = parseEnvelope<T>(raw);
        // ISO-8601 in UTC compares as text: older than the store's loss of writes is a miss, refilled by the CAS.
        const trustedEnvelope = envelope !== undefined && (since === undefined || envelope.written_at >= since);
        // Written for another shape of the type (a deploy under way): a miss, never a missing or mistyped field.
        if (trustedEnvelope && envelope.s === shape) return { hit: true, envelope };
        if (trustedEnvelope) this.meter.otherShape();
        else if (envelope !== undefined) this.meter.distrustedValue();
        else {
          this.meter.invalidValue();
          this.guard.log('warn', 'invalid-value', { key }, 'cache: stored value is not an envelope; treating it as a miss');
        }
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

  /**
   * The envelopes stored now, without leases or trust (for monitoring and repair); undefined if unreadable.
   * One written before the store's `trustedSince` is null, as for read(): it is never served.
   */
  async peek<T>(keys: readonly string[]): Promise<(Envelope<T> | null)[] | undefined> {
    if (keys.length === 0) return [];
    try {
      const raws = await this.guard.call('peek', keys, (store) => store.read(keys));
      const since = this.trustedSince();
      return raws.map((raw) => {
        const envelope = typeof raw === 'string' ? parseEnvelope<T>(raw) : undefined;
        return envelope === undefined || (since !== undefined && envelope.written_at < since) ? null : envelope;
      });
    } catch {
      return undefined;
    }
  }

  /** Takes fill leases (for an early refresh, or over a malformed value); false where another holds one. */
  async acquireLeases(keys: readonly string[], token: string, stats?: RequestCacheStats): Promise<boolean[]> {
    if (keys.length === 0) return [];
    this.meter.roundTrip(stats);
    try {
      return await this.guard.call('lease', keys, (store) => store.acquireLeases(keys, { token, ttlMs: this.leaseTtlMs }));
    } catch {
      return keys.map(() => false);
    }
  }

  /** A load under these leases failed: give them back, so the next reader need not wait for them to expire. Best effort. */
  async releaseLeases(keys: readonly string[], token: string): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.guard.call('release', keys, (store) => store.releaseLeases(keys, token));
    } catch {
      // They expire after leaseTtlMs anyway.
    }
  }

  newToken(): string {
    return this.tokens.next();
  }

  /** The store's `trustedSince` as an envelope's `written_at` would spell it; undefined while it trusts everything. */
  private trustedSince(): string | undefined {
    const since = this.guard.store.trustedSince;
    if (since === undefined) return undefined;
    if (this.since?.ms !== since) this.since = { ms: since, iso: new Date(since).toISOString() };
    return this.since.iso;
  }

  /**
   * The write of committed changes: every entry and every related delete in one
   * round trip, each entry cancelling its key's fill lease, retried with
   * jittered exponential backoff while the circuit is closed. Never throws:
   * the database already holds the truth. Resolves to whether it landed.
   */
  async write(entries: readonly CacheEntry[], options: CacheWriteOptions = {}): Promise<boolean> {
    const { deletes = [], loadMs = 1, retries = this.writeRetries } = options;
    if (entries.length === 0 && deletes.length === 0) return true;
    const writes = entries.map((e) => this.toCasWrite(e, loadMs));
    const keys = writes.map((w) => w.key);
    for (let attempt = 0; ; attempt++) {
      try {
        const outcomes = await this.guard.call('write', keys, (store) => store.apply({ writes, deletes }));
        this.meter.outcomes(outcomes);
        return true;
      } catch (err) {
        const unconfirmed = err instanceof CacheUnavailableError && err.cause instanceof UnconfirmedWriteError;
        if (attempt >= retries || this.breaker.state === 'open' || unconfirmed) {
          this.meter.writeFailure();
          this.guard.log(
            'error',
            'write-failure',
            { err, keys: keys.slice(0, 10), attempts: attempt + 1 },
            'cache: write of a committed change failed; these keys are read from the database until repaired',
          );
          return false;
        }
        this.meter.writeRetry();
        await sleep(backoffDelayMs(attempt, this.writeBackoffMs, this.random));
      }
    }
  }

  /** Backfill after a source load, landing only where `token` still holds the lease; one round trip. */
  async fill(entries: readonly CacheEntry[], loadMs: number, token: string): Promise<CasOutcome[] | undefined> {
    if (entries.length === 0) return [];
    const writes = entries.map((e) => this.toCasWrite(e, loadMs));
    try {
      const outcomes = await this.guard.call('fill', writes.map((w) => w.key), (store) => store.fill(writes, token));
      this.meter.outcomes(outcomes);
      return outcomes;
    } catch {
      this.meter.fillFailure();
      return undefined;
    }
  }

  /** Drops keys that are only hints (secondary lookups), with their leases; best effort. */
  async invalidate(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.guard.call('invalidate', keys, (store) => store.apply({ writes: [], deletes: keys }));
    } catch {
      // A stale hint is verified against the entity on every use; losing this delete is harmless.
    }
  }

  /** Keeps a background task (fill, early refresh) visible to idle() and shutdown. */
  track<T>(task: Promise<T>): Promise<T> {
    return this.background.track(task);
  }

  /** Resolves once every background task started so far has finished. */
  idle(): Promise<void> {
    return this.background.idle();
  }

  private toCasWrite(entry: CacheEntry, loadMs: number): CasWrite {
    const ttlMs = this.ttl.ttlFor(entry.version, entry.data);
    const envelope = createEnvelope(entry.version, entry.data, this.now(), ttlMs, loadMs, entry.shape);
    return { key: entry.key, value: serializeEnvelope(envelope), version: entry.version, ttlMs };
  }
}
