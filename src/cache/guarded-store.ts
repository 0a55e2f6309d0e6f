import { CircuitBreaker } from './circuit-breaker.js';
import type { CacheMeter } from './stats.js';
import { UnconfirmedWriteError, type CacheStore } from './store.js';

/** The subset of pino the engine uses, so the engine does not depend on a logger. */
export interface CacheLogger {
  debug(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The store calls the engine makes, as named in logs and to `onStoreCall`. */
export type StoreOp = 'read' | 'lease' | 'release' | 'peek' | 'write' | 'fill' | 'invalidate';

/**
 * Sees every store call after it settles: its name, how long it took, whether it
 * succeeded and how many keys it named. For metrics; it runs on the hot path, so keep it cheap.
 */
export type StoreCallObserver = (op: StoreOp, durationMs: number, ok: boolean, keyCount: number) => void;

/** Thrown by guarded store calls; `cause` holds the driver's error. */
export class CacheUnavailableError extends Error {
  override readonly name = 'CacheUnavailableError';
}

export interface GuardedStoreOptions {
  readonly store: CacheStore;
  readonly meter: CacheMeter;
  readonly logger: CacheLogger;
  readonly onStoreCall?: StoreCallObserver;
  /** @default 3 consecutive failures */
  readonly breakerFailureThreshold?: number;
  /** @default 1000 */
  readonly breakerOpenMs?: number;
  readonly now: () => number;
}

/**
 * The one guard around every store call: honours the circuit breaker, times
 * the call, names the operation and key in the log (at most once a second per
 * kind, so a dead Redis does not flood it), and wraps the driver's error.
 */
export class GuardedStore {
  readonly store: CacheStore;
  readonly breaker: CircuitBreaker;
  private readonly meter: CacheMeter;
  private readonly logger: CacheLogger;
  private readonly observe: StoreCallObserver | undefined;
  private readonly now: () => number;
  private readonly lastLogged = new Map<string, number>();

  constructor(options: GuardedStoreOptions) {
    this.store = options.store;
    this.meter = options.meter;
    this.logger = options.logger;
    this.observe = options.onStoreCall;
    this.now = options.now;
    this.breaker = new CircuitBreaker({ failureThreshold: options.breakerFailureThreshold, openMs: options.breakerOpenMs, now: options.now });
  }

  async call<R>(op: StoreOp, keys: readonly string[], call: (store: CacheStore) => Promise<R>): Promise<R> {
    if (!this.breaker.allow()) {
      this.meter.breakerRejection();
      throw new CacheUnavailableError(`cache ${op} skipped: circuit open`);
    }
    const observe = this.observe;
    const started = observe === undefined ? 0 : performance.now();
    try {
      const result = await call(this.store);
      this.breaker.success();
      observe?.(op, performance.now() - started, true, keys.length);
      return result;
    } catch (err) {
      // A write the server applied but could not yet vouch for says nothing against the server.
      if (err instanceof UnconfirmedWriteError) this.breaker.success();
      else this.breaker.failure();
      observe?.(op, performance.now() - started, false, keys.length);
      this.log('warn', op, { err, op, key: keys[0], keyCount: keys.length }, `cache: ${op} failed`);
      throw new CacheUnavailableError(`cache ${op} failed`, { cause: err });
    }
  }

  /** One line per second per kind is enough to see a failing store. */
  log(level: 'warn' | 'error', kind: string, obj: object, msg: string): void {
    const now = this.now();
    if (now - (this.lastLogged.get(kind) ?? -Infinity) < 1000) return;
    this.lastLogged.set(kind, now);
    this.logger[level](obj, msg);
  }
}
