import { performance } from 'node:perf_hooks';
import { sleep } from './backoff.js';
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

export type ReadResult<T> = T | null | Error;

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
    if (this.cache.bypass) return this.loadDirect(ids, stats);
    return this.loadManyFrom(ids, stats, 0, undefined);
  }

  /** No cache to keep in step with (CACHE_MODE=off): one source load for the distinct ids, nothing else. */
  private async loadDirect(ids: readonly string[], stats: RequestCacheStats | undefined): Promise<ReadResult<T>[]> {
    this.cache.counters.misses += ids.length;
    this.cache.counters.sourceLoads++;
    if (stats) {
      stats.misses += ids.length;
      stats.sourceLoads++;
    }
    try {
      const found = await this.source([...new Set(ids)]);
      return ids.map((id) => found.get(id)?.data ?? null);
    } catch (err) {
      return ids.map(() => asError(err));
    }
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
    const keys = ids.map(this.keyOf);
    const { reads, token } = await cache.read<T>(keys, stats);
    const results = new Array<ReadResult<T>>(ids.length);
    // Allocated on first use: a warm batch needs none of them.
    let pending: Promise<void>[] | undefined;
    let toLoad: Map<string, number[]> | undefined;
    let leased: Set<string> | undefined;
    let toRefresh: string[] | undefined;
    let again: number[] | undefined;
    let polls = 0;
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
        if (counted) {
          cache.counters.hits++;
          if (stats) stats.hits++;
        }
        if (shouldRefreshEarly(read.envelope, now, cache.beta, cache.random)) (toRefresh ??= []).push(id);
        continue;
      }
      if (counted) {
        cache.counters.misses++;
        if (stats) stats.misses++;
      }
      const flight = this.flights.get(key);
      if (read?.lease === 'granted') {
        (leased ??= new Set()).add(id);
        addSlot((toLoad ??= new Map()), id, i);
      } else if (flight && flight.startedAt >= began) {
        cache.counters.singleFlightJoins++;
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
        if (reads !== undefined) cache.counters.fallbacks++;
        addSlot((toLoad ??= new Map()), id, i);
      }
    }

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
        cache.counters.leaseWaits += polls;
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
    cache.counters.sourceLoads++;
    if (stats) stats.sourceLoads++;
    const loading = this.source(ids);
    const settled = cache.track(
      loading.then(
        async (found) => {
          const toFill = leased.size === ids.length ? ids : ids.filter((id) => leased.has(id));
          if (toFill.length > 0) await cache.fill(this.fillEntries(toFill, found), performance.now() - startedAt, token);
        },
        () => undefined,
      ),
    );
    const flight: Flight<T> = { startedAt, loading, settled };
    const keys = ids.map(this.keyOf);
    for (const key of keys) this.flights.set(key, flight);
    void settled.then(() => {
      for (const key of keys) if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    return loading;
  }

  /** XFetch fired for these keys: take their leases, then reload and rewrite them without making the reader wait. */
  private refreshInBackground(ids: readonly string[]): void {
    const idle = ids.filter((id) => !this.flights.has(this.keyOf(id)));
    if (idle.length === 0) return;
    const { cache } = this;
    const token = cache.newToken();
    void cache.track(
      cache.acquireLeases(idle.map(this.keyOf), token).then((granted) => {
        const mine = idle.filter((_, i) => granted[i]);
        if (mine.length === 0) return;
        cache.counters.earlyRefreshes += mine.length;
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
      if (record) entries.push({ key: this.keyOf(id), version: record.version, data: record.data });
      else if (this.cacheAbsent) entries.push({ key: this.keyOf(id), version: 0, data: null });
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
