import { sleep } from '../cache/backoff.js';
import type { CacheEngine, CacheLogger } from '../cache/engine.js';
import type { CachedKinds } from '../cached-values.js';

export interface ConsistencySamplerOptions {
  readonly cache: CacheEngine;
  /** Every kind of cached value (entities and lists), by name. */
  readonly kinds: CachedKinds;
  readonly logger: CacheLogger;
  /** Pause between samples; 0 turns sampling off. @default 1000 */
  readonly intervalMs?: number;
  /** Keys compared per sample. @default 20 */
  readonly sampleSize?: number;
  /** Recently written keys remembered. @default 1000 */
  readonly capacity?: number;
  /** A key found behind is checked again after this long before it counts as stale. @default 200 */
  readonly recheckMs?: number;
  /** Called with each confirmed stale key's age (ms since this instance last wrote it). */
  readonly onStale?: (ageMs: number) => void;
  readonly random?: () => number;
  readonly now?: () => number;
}

/** A value this instance wrote: an entity (`Product`, its key) or a list (`Account.orders`, its owner). */
interface RecentWrite {
  readonly type: string;
  readonly id: string;
  readonly at: number;
}

export interface SampleResult {
  readonly sampled: number;
  readonly stale: number;
}

/**
 * Polaris-style consistency monitoring: now and then, compare the cached
 * versions of random recently written values (rows and lists) with the database. The database is
 * read first, so a cache version below it is behind for real, unless a write
 * is landing at that very moment; such keys are checked once more shortly after.
 */
export class ConsistencySampler {
  private readonly recent: RecentWrite[] = [];
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly capacity: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly options: ConsistencySamplerOptions) {
    this.capacity = options.capacity ?? 1000;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  note(changes: readonly { type: string; id: string }[]): void {
    for (const { type, id } of changes) {
      const write = { type, id, at: this.now() };
      if (this.recent.length < this.capacity) this.recent.push(write);
      else this.recent[this.next] = write;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  start(): void {
    const interval = this.options.intervalMs ?? 1000;
    if (interval <= 0 || this.timer) return;
    const loop = () => {
      this.running = this.runOnce()
        .catch((err: unknown) => this.options.logger.debug({ err }, 'consistency sample failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(loop, interval);
        });
    };
    this.timer = setTimeout(loop, interval);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  async runOnce(): Promise<SampleResult> {
    const { cache } = this.options;
    const picked = this.pick(this.options.sampleSize ?? 20);
    if (picked.length === 0) return { sampled: 0, stale: 0 };
    const truth = await this.databaseVersions(picked);
    let behind = await this.behind(picked, truth);
    if (behind.length > 0) {
      await sleep(this.options.recheckMs ?? 200);
      behind = await this.behind(behind, truth);
    }
    cache.meter.consistencySample(picked.length, behind.length);
    for (const w of behind) {
      this.options.onStale?.(this.now() - w.at);
      this.options.logger.warn({ type: w.type, id: w.id }, 'consistency sampler: cached version is behind the database');
    }
    return { sampled: picked.length, stale: behind.length };
  }

  /** Random distinct recent writes, one per key. */
  private pick(n: number): RecentWrite[] {
    const byKey = new Map<string, RecentWrite>();
    for (let tries = 0; tries < n * 3 && byKey.size < Math.min(n, this.recent.length); tries++) {
      const w = this.recent[Math.floor(this.random() * this.recent.length)] as RecentWrite;
      const key = `${w.type}:${w.id}`;
      const known = byKey.get(key);
      if (!known || known.at < w.at) byKey.set(key, w);
    }
    return [...byKey.values()];
  }

  /** Per `type:id`, the database version, or -1 where the row is gone (a tombstone or nothing must be cached). */
  private async databaseVersions(writes: readonly RecentWrite[]): Promise<Map<string, number>> {
    const versions = new Map<string, number>();
    const byType = new Map<string, string[]>();
    for (const w of writes) (byType.get(w.type) ?? byType.set(w.type, []).get(w.type))?.push(w.id);
    for (const [type, ids] of byType) {
      const kind = this.options.kinds.get(type);
      if (!kind) continue;
      const found = await kind.load(ids);
      for (const id of ids) versions.set(`${type}:${id}`, found.get(id)?.version ?? -1);
    }
    return versions;
  }

  private async behind(writes: readonly RecentWrite[], truth: ReadonlyMap<string, number>): Promise<RecentWrite[]> {
    const { cache, kinds } = this.options;
    const known = writes.flatMap((w) => {
      const kind = kinds.get(w.type);
      return kind === undefined ? [] : [{ write: w, key: kind.keyOf(w.id) }];
    });
    const envelopes = await cache.peek(known.map((k) => k.key));
    if (envelopes === undefined) return []; // cannot read the cache: nothing is served from it either
    return known.map((k) => k.write).filter((w, i) => {
      const envelope = envelopes[i];
      const dbVersion = truth.get(`${w.type}:${w.id}`);
      if (envelope === null || envelope === undefined || dbVersion === undefined) return false; // nothing cached: reads go to the database
      if (dbVersion === -1) return envelope.data !== null; // row gone: only a tombstone is right
      return envelope.v < dbVersion;
    });
  }
}
