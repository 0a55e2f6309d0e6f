import { performance } from 'node:perf_hooks';
import { sleep } from './backoff.js';
import { shouldRefreshEarly } from './envelope.js';
import type { CacheEngine, CacheEntry } from './engine.js';
import type { RequestCacheStats } from './stats.js';

/** A row as the source of truth returned it, with its committed version. */
export interface SourceRecord<T> {
  readonly version: number;
  readonly data: T;
}

/** Loads many ids in one query; ids with no value are simply absent from the map. */
export type SourceLoader<T> = (ids: readonly string[]) => Promise<ReadonlyMap<string, SourceRecord<T>>>;

/** Values in id order: the value, null where none exists, or an Error where loading failed. */
export type ReadResult<T> = T | null | Error;

/** What the read side asks of a cached kind of value; CACHE_MODE=off gets a DirectRead instead. */
export interface Reader<T> {
  loadMany(ids: readonly string[], stats?: RequestCacheStats): Promise<ReadResult<T>[]>;
}

export interface ReadThroughOptions<T> {
  readonly cache: CacheEngine;
  /** The cache key of an id. */
  readonly keyFor: (id: string) => string;
  readonly load: SourceLoader<T>;
  /** The shape of the values this reader serves: a stored value of another shape is a miss. @default none */
  readonly shape?: string;
  /**
   * Whether this reader's fills may land now: false while a newer shape of the
   * same values is being rolled out elsewhere, so that two shapes do not keep
   * replacing each other (this instance then reads the source). @default always
   */
  readonly fills?: () => boolean;
}

/**
 * One source load in progress, shared by every reader in the process that may
 * use it: one object per load, registered under each of its keys (a joiner
 * takes its own row from the whole result, so a load of 100 ids costs no
 * per-id promises).
 */
interface Flight<T> {
  /** performance.now() just before the query was sent. */
  readonly startedAt: number;
  readonly loading: Promise<ReadonlyMap<string, SourceRecord<T>>>;
  /** Resolves once the values have been written back (or the write-back failed or was not allowed). */
  readonly settled: Promise<void>;
}

/** Delay before the n-th re-read of a key whose lease another reader holds. */
const pollDelayMs = (attempt: number): number => Math.min(5 * 2 ** attempt, 100);

/**
 * The read path, for any entity: one cache round trip for all keys (which also
 * takes the fill leases of the misses), one source load for the misses, one
 * round trip of lease-guarded CAS fills.
 *
 * Freshness rules, in order:
 * - A fill lands only while its lease holds; every write-through cancels the
 *   leases on its keys. So a fill that loaded version N before a write of N+1
 *   cannot land, even if N+1 was evicted meanwhile (Meta's stale-set race).
 * - In-process single flight: a reader may take the value of a load that is
 *   already in flight only if that load started after the reader began (it saw
 *   every write acknowledged before the read). A reader that finds an older
 *   load waits for it to settle and reads the cache again.
 * - A reader that finds another process's lease keeps reading again while that
 *   lease holds: the holder's fill lands, or its lease ends (its load failed, or
 *   outlived the lease) and this reader takes the next one. Only after
 *   `leaseWaitMs` from the first sight of a lease (by default the lease TTL,
 *   which no lease outlives) does it load from the source itself, without filling.
 * So a stampede on one key costs about one load in the whole fleet, however slow
 * that load is (two when a reader takes the lease right after the fill released it).
 * Every lease ends: a fill releases it (an id with no value is filled as
 * "no such value", version 0, short-lived), and a load that fails gives it back.
 */
export class ReadThrough<T> implements Reader<T> {
  private readonly flights = new Map<string, Flight<T>>();
  private readonly cache: CacheEngine;
  private readonly keyFor: (id: string) => string;
  private readonly source: SourceLoader<T>;
  private readonly shape: string | undefined;
  private readonly fills: () => boolean;

  constructor(options: ReadThroughOptions<T>) {
    this.cache = options.cache;
    this.keyFor = options.keyFor;
    this.source = options.load;
    this.shape = options.shape;
    this.fills = options.fills ?? (() => true);
  }

  loadMany(ids: readonly string[], stats?: RequestCacheStats): Promise<ReadResult<T>[]> {
    return this.loadManyFrom(ids, stats, 0, undefined);
  }

  /** `waitUntil`: when waiting for other readers' fills ends; set when their lease is first seen. */
  private async loadManyFrom(
    ids: readonly string[],
    stats: RequestCacheStats | undefined,
    attempt: number,
    waitUntil: number | undefined,
  ): Promise<ReadResult<T>[]> {
    const began = performance.now();
    const { cache } = this;
    const { meter } = cache;
    const keys = ids.map(this.keyFor);
    const { reads, token } = await cache.read<T>(keys, stats, this.shape);
    const results = new Array<ReadResult<T>>(ids.length);
    // Allocated on first use: a warm batch needs none of them.
    let pending: Promise<void>[] | undefined;
    let toLoad: Map<string, number[]> | undefined;
    let leased: Set<string> | undefined;
    let toRefresh: string[] | undefined;
    let again: number[] | undefined;
    let polls = 0;
    let hits = 0;
    let misses = 0;
    const now = cache.now();
    // A key read again (after waiting for a fill) was already counted, as a miss, the first time.
    const counted = attempt === 0;

    // From the read's reply to registering this batch's flights, nothing awaits:
    // another batch in this process cannot slip in between.
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const key = keys[i] as string;
      const read = reads?.[i];
      if (read?.hit) {
        results[i] = read.envelope.data;
        if (counted) hits++;
        if (shouldRefreshEarly(read.envelope, now, cache.beta, cache.random)) (toRefresh ??= []).push(id);
        continue;
      }
      if (counted) misses++;
      const flight = this.flights.get(key);
      if (read?.lease === 'granted') {
        (leased ??= new Set()).add(id);
        addSlot((toLoad ??= new Map()), id, i);
      } else if (flight && flight.startedAt >= began) {
        meter.singleFlightJoin();
        (pending ??= []).push(
          flight.loading.then(
            (found) => void (results[i] = found.get(id)?.data ?? null),
            (err: unknown) => void (results[i] = asError(err)),
          ),
        );
      } else if (flight && attempt === 0 && reads !== undefined) {
        // Another batch here is filling it: read the key again once that has settled.
        (again ??= []).push(i);
        (pending ??= []).push(flight.settled);
      } else if (read?.lease === 'held' && performance.now() < (waitUntil ??= performance.now() + cache.leaseWaitMs)) {
        // Another process is filling it: read it again after a short wait, while its lease may still hold.
        (again ??= []).push(i);
        polls++;
      } else {
        if (reads !== undefined) meter.fallback();
        addSlot((toLoad ??= new Map()), id, i);
      }
    }
    if (hits > 0) meter.hits(hits, stats);
    if (misses > 0) meter.misses(misses, stats);

    if (toLoad !== undefined) {
      const loading = toLoad;
      (pending ??= []).push(
        this.startLoad([...loading.keys()], leased ?? new Set(), token, stats).then(
          (found) => {
            for (const [id, slots] of loading) {
              const record = found.get(id);
              for (const i of slots) results[i] = record ? record.data : null;
            }
          },
          (err: unknown) => {
            for (const slots of loading.values()) for (const i of slots) results[i] = asError(err);
          },
        ),
      );
    }
    if (toRefresh !== undefined) this.refreshInBackground(toRefresh);
    if (pending !== undefined) await Promise.all(pending);

    if (again !== undefined) {
      if (polls > 0) {
        meter.leaseWaits(polls);
        await sleep(pollDelayMs(attempt));
      }
      const slots = again;
      const reread = await this.loadManyFrom(
        slots.map((i) => ids[i] as string),
        stats,
        attempt + 1,
        waitUntil,
      );
      slots.forEach((slot, j) => (results[slot] = reread[j] as ReadResult<T>));
    }
    return results;
  }

  /**
   * One source load for `ids`, registered as the flight of each key, then one
   * round trip of fills for the keys whose lease this batch holds. Resolves
   * with the loaded rows before the fill lands.
   */
  private startLoad(
    ids: readonly string[],
    leased: ReadonlySet<string>,
    token: string,
    stats: RequestCacheStats | undefined,
  ): Promise<ReadonlyMap<string, SourceRecord<T>>> {
    const { cache } = this;
    const startedAt = performance.now();
    cache.meter.sourceLoad(stats);
    const loading = this.source(ids);
    const toFill = leased.size === ids.length ? ids : ids.filter((id) => leased.has(id));
    const settled = cache.track(
      loading.then(
        async (found) => {
          if (toFill.length === 0) return;
          if (this.fills()) await cache.fill(this.fillEntries(toFill, found), performance.now() - startedAt, token);
          else await cache.releaseLeases(toFill.map(this.keyFor), token);
        },
        // Nothing to fill: give the leases back, so that the next reader loads at once instead of waiting them out.
        () => cache.releaseLeases(toFill.map(this.keyFor), token),
      ),
    );
    const flight: Flight<T> = { startedAt, loading, settled };
    const keys = ids.map(this.keyFor);
    for (const key of keys) this.flights.set(key, flight);
    void settled.then(() => {
      for (const key of keys) if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    return loading;
  }

  /** XFetch fired for these keys: take their leases, then reload and rewrite them without making the reader wait. */
  private refreshInBackground(ids: readonly string[]): void {
    if (!this.fills()) return;
    const idle = ids.filter((id) => !this.flights.has(this.keyFor(id)));
    if (idle.length === 0) return;
    const { cache } = this;
    const token = cache.newToken();
    void cache.track(
      cache.acquireLeases(idle.map(this.keyFor), token).then((granted) => {
        const mine = idle.filter((_, i) => granted[i]);
        if (mine.length === 0) return;
        cache.meter.earlyRefreshes(mine.length);
        return this.startLoad(mine, new Set(mine), token, undefined).then(
          () => undefined,
          () => undefined,
        );
      }),
    );
  }

  private fillEntries(ids: readonly string[], found: ReadonlyMap<string, SourceRecord<T>>): CacheEntry<T>[] {
    const entries: CacheEntry<T>[] = [];
    for (const id of ids) {
      const record = found.get(id);
      // An id with no value is filled as "no such value" (version 0, short TTL): its lease ends, and any real version replaces it.
      entries.push(
        record
          ? { key: this.keyFor(id), version: record.version, data: record.data, shape: this.shape }
          : { key: this.keyFor(id), version: 0, data: null, shape: this.shape },
      );
    }
    return entries;
  }
}

function addSlot(map: Map<string, number[]>, id: string, slot: number): void {
  const slots = map.get(id);
  if (slots) slots.push(slot);
  else map.set(id, [slot]);
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/**
 * CACHE_MODE=off: no cache to keep in step with, so no leases, flights or fills:
 * one source load for the distinct ids, nothing else. Chosen once, where the
 * readers are built.
 */
export class DirectRead<T> implements Reader<T> {
  constructor(
    private readonly source: SourceLoader<T>,
    private readonly meter: { misses(n: number, stats: RequestCacheStats | undefined): void; sourceLoad(stats: RequestCacheStats | undefined): void },
  ) {}

  async loadMany(ids: readonly string[], stats?: RequestCacheStats): Promise<ReadResult<T>[]> {
    this.meter.misses(ids.length, stats);
    this.meter.sourceLoad(stats);
    try {
      const found = await this.source([...new Set(ids)]);
      return ids.map((id) => found.get(id)?.data ?? null);
    } catch (err) {
      return ids.map(() => asError(err));
    }
  }
}
