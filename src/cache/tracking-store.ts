import { Redis } from 'ioredis';
import { LocalCopy } from './local-copy.js';
import { ReadBarrier } from './read-barrier.js';
import type { RedisStore } from './redis-store.js';
import type { CacheStore, CasOutcome, CasWrite, LeaseRequest, StoreBatch } from './store.js';

/** Where Redis publishes the keys a tracked connection read and someone then changed (RESP2). */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

export interface TrackingStoreOptions {
  /** The store whose reads are copied; its reading connection gets CLIENT TRACKING. */
  readonly inner: RedisStore;
  /** The same Redis, for the invalidation connection. */
  readonly url: string;
  /** Bound of the local copy, counted as local-copy.ts says. */
  readonly maxBytes: number;
  /** Keys whose change empties the whole copy: the cache epoch, which changes when Redis may have lost writes. @default [] */
  readonly flushOn?: readonly string[];
  /** Bound on the barrier's PING and every command of the invalidation connection. @default 500 */
  readonly commandTimeoutMs?: number;
  /** How long connect() waits for the copy to be switched on. @default 2000 */
  readonly connectTimeoutMs?: number;
  readonly onConnectionError?: (err: Error) => void;
}

/** What the metrics read of the copy. */
export interface LocalCopyState {
  readonly on: boolean;
  /** The invalidation connection's client id that tracking redirects to; undefined while it is down. */
  readonly redirectId: number | undefined;
  readonly bytes: number;
  readonly entries: number;
  readonly barrierPings: number;
  readonly stats: LocalCopy['stats'];
}

/**
 * A RedisStore with a coherent in-process copy of what it read (issue 19).
 * Redis itself says what changed: the reading connection runs
 * `CLIENT TRACKING on REDIRECT <id>`, so every key it read is published on
 * `__redis__:invalidate` to a connection of ours (the invalidation
 * connection) when anyone changes it, expires it or flushes it.
 *
 * A read is answered from the copy only after the read barrier (read-barrier.ts):
 * a PING on the invalidation connection sent after the read began has come
 * back, so every invalidation of a write acknowledged before has been applied.
 * Keys the copy lacks are read from Redis in one MGET, and kept only if no
 * invalidation hit them while that read was in flight (local-copy.ts).
 *
 * The copy is on only while both connections are up and tracking is on for
 * the reading connection's current session with the invalidation
 * connection's current id; losing either empties it and turns it off until
 * both are back and tracking is switched on again. While it is off (or the
 * barrier fails) reads go to Redis as without it. Writes, fills and leases
 * go to Redis as before; a write or fill also drops this instance's copy of
 * its keys before it is sent and again once it is answered.
 */
export class TrackingStore implements CacheStore {
  readonly kind = 'redis';
  readonly retains = true;
  readonly local: LocalCopy;
  readonly inner: RedisStore;
  /** Subscribed to the invalidations; also carries the barrier's PINGs. */
  readonly invalidations: Redis;
  private readonly barrier: ReadBarrier;
  private readonly flushOn: ReadonlySet<string>;
  private readonly connectTimeoutMs: number;
  private readonly onError: (err: Error) => void;
  /** Whether the copy may be read and filled now. */
  private on = false;
  /** Changes whenever the copy is turned off: a read that began before it neither uses nor fills the copy. */
  private generation = 0;
  /** The invalidation connection's client id while it is subscribed; undefined otherwise. */
  private redirectId: number | undefined;
  private readonly armed = new Set<() => void>();
  private closed = false;

  constructor(options: TrackingStoreOptions) {
    this.inner = options.inner;
    this.local = new LocalCopy(options.maxBytes);
    this.flushOn = new Set(options.flushOn ?? []);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.onError = options.onConnectionError ?? (() => {});
    this.invalidations = new Redis(options.url, {
      // ioredis 6 speaks RESP3 unless told otherwise, and drops RESP3's invalidation pushes; a RESP2
      // redirect target gets them as Pub/Sub messages instead, whatever the tracked connection speaks.
      protocol: 2,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: this.connectTimeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // A command of a lost connection must not be answered on the next one: the barrier would pass on the wrong stream.
      autoResendUnfulfilledCommands: false,
      // Subscribed by arm(), after CLIENT ID, which a subscribed RESP2 connection may not send.
      autoResubscribe: false,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
      lazyConnect: true,
    });
    this.barrier = new ReadBarrier(() => this.invalidations.ping());
    this.invalidations.on('error', this.onError);
    this.invalidations.on('messageBuffer', (channel: Buffer, message: unknown) => this.onInvalidation(channel, message));
    this.invalidations.on('close', () => {
      this.redirectId = undefined;
      this.turnOff();
    });
    this.invalidations.on('ready', () => void this.subscribe().catch(this.onError));
    const reader = this.inner.client;
    reader.on('close', () => this.turnOff());
    reader.on('ready', () => void this.arm().catch(this.onError));
  }

  /** The reading connection, as RedisStore names it (tests count its round trips). */
  get client(): Redis {
    return this.inner.client;
  }

  get trustedSince(): number | undefined {
    return this.inner.trustedSince;
  }

  /** The copy's figures, for metrics and tests. */
  get state(): LocalCopyState {
    return { on: this.on, redirectId: this.redirectId, bytes: this.local.bytes, entries: this.local.count, barrierPings: this.barrier.pings, stats: this.local.stats };
  }

  /**
   * Connects the store (rejecting as RedisStore.connect does), then waits up to
   * `connectTimeoutMs` for the copy to be switched on; if it is not by then, it
   * is reported to onConnectionError and switched on in the background once the invalidation connection is up.
   */
  async connect(): Promise<void> {
    const on = this.whenOn(this.connectTimeoutMs);
    if (this.invalidations.status === 'wait') this.invalidations.connect().catch(() => {});
    await this.inner.connect();
    if (this.inner.client.status === 'ready' && this.redirectId !== undefined) await this.arm();
    try {
      await on;
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Resolves once the copy is on (at once if it is); rejects after `timeoutMs`. */
  whenOn(timeoutMs: number): Promise<void> {
    if (this.on) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.armed.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.armed.delete(done);
        reject(new Error(`the local copy was not switched on within ${timeoutMs} ms: the invalidation connection or CLIENT TRACKING is not up`));
      }, timeoutMs);
      this.armed.add(done);
    });
  }

  /**
   * Keys the copy lacks are asked of Redis at once, without waiting for the
   * barrier (Redis' answer is fresh by itself); keys it holds wait for the
   * barrier, which runs alongside, and are answered from the copy if they are
   * still there after it. A warm batch costs Redis one PING shared with every
   * reader of the tick; a cold one is one MGET, as without the copy.
   */
  async read(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    if (!this.on) return this.inner.read(keys);
    const generation = this.generation;
    const now = Date.now();
    const local = this.local;
    const values: (string | null)[] = new Array<string | null>(keys.length);
    let held: number[] | undefined;
    let lacking: number[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const value = local.get(keys[i] as string, now);
      if (value === undefined) (lacking ??= []).push(i);
      else {
        values[i] = value;
        (held ??= []).push(i);
      }
    }
    if (held === undefined) {
      local.stats.misses += keys.length;
      return this.fetch(keys, generation);
    }
    const fetching = lacking === undefined ? undefined : this.fetchInto(values, keys, lacking, generation);
    // Settled below; without this, its failure would be unhandled while the barrier is awaited.
    fetching?.catch(() => {});
    const removals = local.removals;
    let usable: boolean;
    try {
      await this.barrier.pass();
      usable = this.on && generation === this.generation;
    } catch {
      usable = false; // the invalidation connection did not answer: nothing from the copy, Redis answers
    }
    // Invalidated during the barrier: those keys are asked of Redis after all (a second round trip, rarely).
    // One that was invalidated and then copied again holds a newer value than the one looked up first.
    const stale = !usable ? held : local.removals === removals ? undefined : held.filter((i) => (values[i] = local.get(keys[i] as string, now) ?? null) === null);
    local.stats.hits += held.length - (stale?.length ?? 0);
    local.stats.misses += keys.length - held.length + (stale?.length ?? 0);
    await Promise.all([fetching, stale === undefined || stale.length === 0 ? undefined : this.fetchInto(values, keys, stale, usable ? generation : undefined)]);
    return values;
  }

  /** Reads `keys[slots]` from Redis into `values`. */
  private async fetchInto(values: (string | null)[], keys: readonly string[], slots: readonly number[], generation: number | undefined): Promise<void> {
    const raws = await this.fetch(
      slots.map((i) => keys[i] as string),
      generation,
    );
    slots.forEach((slot, j) => (values[slot] = raws[j] ?? null));
  }

  /**
   * One MGET; what it brings back is kept in the copy if the copy is still in
   * the `generation` the read began in and no invalidation hit the key while
   * it was in flight. undefined: keep nothing.
   */
  private async fetch(keys: readonly string[], generation: number | undefined): Promise<(string | null)[]> {
    if (generation === undefined) return this.inner.read(keys);
    const ticket = this.local.begin(keys);
    let raws: (string | null)[];
    try {
      raws = await this.inner.read(keys);
    } catch (err) {
      this.local.end(ticket, undefined, false);
      throw err;
    }
    this.local.end(ticket, raws, this.on && generation === this.generation);
    return raws;
  }

  acquireLeases(keys: readonly string[], lease: LeaseRequest): Promise<boolean[]> {
    return this.inner.acquireLeases(keys, lease);
  }

  releaseLeases(keys: readonly string[], token: string): Promise<void> {
    return this.inner.releaseLeases(keys, token);
  }

  apply(batch: StoreBatch): Promise<CasOutcome[]> {
    const keys = batch.writes.map((w) => w.key).concat(batch.deletes ?? []);
    return this.dropAround(keys, () => this.inner.apply(batch));
  }

  fill(writes: readonly CasWrite[], token: string): Promise<CasOutcome[]> {
    return this.dropAround(
      writes.map((w) => w.key),
      () => this.inner.fill(writes, token),
    );
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.turnOff();
    if (this.invalidations.status !== 'end') {
      try {
        await this.invalidations.quit();
      } catch {
        this.invalidations.disconnect();
      }
    }
    await this.inner.close();
  }

  /**
   * A write of this instance drops its keys from the copy before it is sent
   * (reads in flight then keep nothing of them) and again once answered, even
   * when it failed: it may still have landed. Redis' own invalidation follows.
   */
  private async dropAround<R>(keys: readonly string[], send: () => Promise<R>): Promise<R> {
    for (const key of keys) this.local.invalidate(key);
    try {
      return await send();
    } finally {
      for (const key of keys) this.local.invalidate(key);
    }
  }

  /** On every (re)connection of the invalidation connection: learn its id, subscribe, then switch tracking on. */
  private async subscribe(): Promise<void> {
    const connection = this.invalidations;
    const id = Number(await connection.call('CLIENT', 'ID'));
    await connection.subscribe(INVALIDATE_CHANNEL);
    if (connection.status !== 'ready') return; // lost meanwhile: 'ready' comes again
    this.redirectId = id;
    await this.arm();
  }

  /**
   * Tracking on for the reading connection's current session, redirected to
   * the invalidation connection's current id; the copy is on once Redis said
   * OK and neither connection changed meanwhile. Every read sent after that
   * OK, on that connection, is tracked.
   */
  private async arm(): Promise<void> {
    const id = this.redirectId;
    const reader = this.inner.client;
    if (this.closed || id === undefined || reader.status !== 'ready') return;
    const generation = this.generation;
    await reader.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id));
    if (generation !== this.generation || this.redirectId !== id || reader.status !== 'ready' || this.closed) return;
    this.on = true;
    for (const done of [...this.armed]) done();
  }

  private turnOff(): void {
    this.on = false;
    this.generation++;
    this.local.flush();
  }

  private onInvalidation(channel: Buffer, message: unknown): void {
    if (channel.toString() !== INVALIDATE_CHANNEL) return;
    // A null list: FLUSHALL or FLUSHDB, or Redis dropped its tracking table.
    if (!Array.isArray(message)) {
      this.local.flush();
      return;
    }
    for (const item of message as unknown[]) {
      const key = String(item);
      if (this.flushOn.has(key)) {
        this.local.flush();
        return;
      }
      this.local.invalidate(key);
    }
  }
}
