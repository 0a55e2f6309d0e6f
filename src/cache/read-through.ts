import { performance } from 'node:perf_hooks';
import { shouldRefreshEarly } from './envelope.js';
import type { CacheEntry, EntityCache } from './entity-cache.js';
import type { RequestCacheStats } from './stats.js';

/** A row as the source of truth returned it, with its committed version. */
export interface SourceRecord<T> {
  readonly version: number;
  readonly data: T;
}

/** Loads many ids in one query; ids with no row are simply absent from the map. */
export type SourceLoader<T> = (ids: readonly string[]) => Promise<ReadonlyMap<string, SourceRecord<T>>>;

export interface ReadThroughOptions<T> {
  readonly cache: EntityCache;
  readonly keyOf: (id: string) => string;
  readonly load: SourceLoader<T>;
  /**
   * Cache "no such row" as a version-0 entry, so repeated reads of a missing id
   * stay off the database. Any real row (version >= 1) replaces it through the CAS.
   * Off for secondary lookups, whose absence has no version to guard it.
   */
  readonly cacheAbsent: boolean;
}

/** One source load in progress for one key, shared by every reader in the process that may use it. */
interface Flight<T> {
  /** performance.now() just before the query was sent. */
  readonly startedAt: number;
  readonly value: Promise<SourceRecord<T> | undefined>;
  /** Resolves once the value has been written back (or the write-back failed). */
  readonly settled: Promise<void>;
}

export type ReadResult<T> = T | null | Error;

/**
 * The read path, for any entity: one cache round trip for all keys, one source
 * load for the misses, one round trip of CAS fills.
 *
 * Single flight with a freshness rule. A reader may take the value of a load
 * that is already in flight only if that load started after the reader began:
 * such a load saw every write acknowledged before the read began. A reader that
 * finds an older load waits for it to settle and then reads the cache again,
 * which by then holds that load's fill or a newer write-through. So a stampede
 * on one key costs one load per process, and no reader ever gets a value older
 * than a write acknowledged before it started.
 */
export class ReadThrough<T> {
  private readonly flights = new Map<string, Flight<T>>();
  private readonly cache: EntityCache;
  private readonly keyOf: (id: string) => string;
  private readonly source: SourceLoader<T>;
  private readonly cacheAbsent: boolean;

  constructor(options: ReadThroughOptions<T>) {
    this.cache = options.cache;
    this.keyOf = options.keyOf;
    this.source = options.load;
    this.cacheAbsent = options.cacheAbsent;
  }

  /** Values in id order: the row, null where none exists, or an Error where loading failed. */
  async loadMany(ids: readonly string[], stats?: RequestCacheStats): Promise<ReadResult<T>[]> {
    return this.loadManyFrom(ids, stats, false);
  }

  private async loadManyFrom(
    ids: readonly string[],
    stats: RequestCacheStats | undefined,
    afterWaiting: boolean,
  ): Promise<ReadResult<T>[]> {
    const began = performance.now();
    const { cache } = this;
    const keys = ids.map(this.keyOf);
    const reads = await cache.read<T>(keys, stats);
    const results = new Array<ReadResult<T>>(ids.length);
    const pending: Promise<void>[] = [];
    const toLoad = new Map<string, number[]>();
    const toRefresh: string[] = [];
    const toAwait: number[] = [];
    const now = cache.now();

    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const key = keys[i] as string;
      const read = reads?.[i];
      if (read?.hit) {
        results[i] = read.envelope.data;
        cache.counters.hits++;
        if (stats) stats.hits++;
        if (shouldRefreshEarly(read.envelope, now, cache.beta, cache.random)) toRefresh.push(id);
        continue;
      }
      cache.counters.misses++;
      if (stats) stats.misses++;
      const flight = this.flights.get(key);
      if (flight && flight.startedAt >= began) {
        cache.counters.singleFlightJoins++;
        pending.push(
          flight.value.then(
            (record) => void (results[i] = record ? record.data : null),
            (err: unknown) => void (results[i] = asError(err)),
          ),
        );
      } else if (flight && !afterWaiting && reads !== undefined) {
        toAwait.push(i);
        pending.push(flight.settled);
      } else {
        const slots = toLoad.get(id);
        if (slots) slots.push(i);
        else toLoad.set(id, [i]);
      }
    }

    if (toLoad.size > 0) {
      pending.push(
        this.startLoad([...toLoad.keys()], stats, reads !== undefined).then(
          (found) => {
            for (const [id, slots] of toLoad) {
              const record = found.get(id);
              for (const i of slots) results[i] = record ? record.data : null;
            }
          },
          (err: unknown) => {
            for (const slots of toLoad.values()) for (const i of slots) results[i] = asError(err);
          },
        ),
      );
    }
    if (toRefresh.length > 0) this.refreshInBackground(toRefresh);
    await Promise.all(pending);

    if (toAwait.length > 0) {
      const again = await this.loadManyFrom(
        toAwait.map((i) => ids[i] as string),
        stats,
        true,
      );
      toAwait.forEach((slot, j) => (results[slot] = again[j] as ReadResult<T>));
    }
    return results;
  }

  /**
   * One source load for `ids`, registered as the flight of each key, then one
   * round trip of CAS fills. Resolves with the loaded rows before the fill lands.
   */
  private startLoad(
    ids: readonly string[],
    stats: RequestCacheStats | undefined,
    fill: boolean,
  ): Promise<ReadonlyMap<string, SourceRecord<T>>> {
    const { cache } = this;
    const startedAt = performance.now();
    cache.counters.sourceLoads++;
    if (stats) stats.sourceLoads++;
    const loading = this.source(ids);
    const settled = cache.track(
      loading.then(
        async (found) => {
          if (fill) await cache.fill(this.fillEntries(ids, found), performance.now() - startedAt);
        },
        () => undefined,
      ),
    );
    for (const id of ids) {
      const key = this.keyOf(id);
      const flight: Flight<T> = { startedAt, value: loading.then((found) => found.get(id)), settled };
      // The value promise is also observed by joiners; this keeps an unobserved failure quiet.
      flight.value.catch(() => undefined);
      this.flights.set(key, flight);
      void settled.then(() => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      });
    }
    return loading;
  }

  /** XFetch fired for these keys: reload and rewrite them without making the reader wait. */
  private refreshInBackground(ids: readonly string[]): void {
    const idle = ids.filter((id) => !this.flights.has(this.keyOf(id)));
    if (idle.length === 0) return;
    this.cache.counters.earlyRefreshes += idle.length;
    void this.startLoad(idle, undefined, true).catch(() => undefined);
  }

  private fillEntries(ids: readonly string[], found: ReadonlyMap<string, SourceRecord<T>>): CacheEntry<T>[] {
    const entries: CacheEntry<T>[] = [];
    for (const id of ids) {
      const record = found.get(id);
      if (record) entries.push({ key: this.keyOf(id), version: record.version, data: record.data });
      else if (this.cacheAbsent) entries.push({ key: this.keyOf(id), version: 0, data: null });
    }
    return entries;
  }
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
