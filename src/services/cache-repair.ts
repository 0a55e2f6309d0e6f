import type { Knex } from 'knex';
import type { CacheEngine, CacheEntry, CacheLogger } from '../cache/engine.js';
import type { CachedKind, CachedKinds } from '../cached-values.js';
import type { OutboxRepository, OutboxRow } from '../db/outbox-repository.js';
import { isTransientDbError } from '../db/pg-errors.js';

export interface CacheRepairOptions {
  readonly knex: Knex;
  readonly outbox: OutboxRepository;
  readonly cache: CacheEngine;
  /** Every kind of cached value, by the name the outbox uses. */
  readonly kinds: CachedKinds;
  readonly logger: CacheLogger;
  /** Pause between passes. @default 250 */
  readonly intervalMs?: number;
  /** Rows younger than this belong to a mutation still writing; leave them. @default 1000 */
  readonly repairAfterMs?: number;
  /**
   * Rows per pass. A pass has a fixed cost (the overdue scan) next to its rows,
   * so a bulk change by another program drains about twice as fast with 2000
   * as with 500. @default 2000
   */
  readonly batchSize?: number;
  /**
   * An outbox row older than this is not a write in progress but a write that
   * failed: every instance then reads its key from the database until it is
   * repaired. @default 200
   */
  readonly suspectAfterMs?: number;
  /** Whether this instance knows the write of an outbox row landed (it is only waiting to be deleted). */
  readonly landed?: (outboxId: string) => boolean;
}

/** The outbox gauge is refreshed at most this often, and counts at most COUNT_CAP rows. */
const COUNT_EVERY_MS = 1000;
const COUNT_CAP = 1_000_000;

/** Bound on the outbox rows one pass looks at. */
const SCAN_LIMIT = 5000;
/** After a wake-up, wait this long for more: notifications that close together share a pass. */
const WAKE_DELAY_MS = 20;

/** Longest reason kept with a row set aside. */
const REASON_MAX = 500;

/** An outbox row this pass cannot apply, and why. */
interface Reject {
  readonly outboxId: string;
  readonly reason: string;
}

/** The keys one failed write-through left stale, and the outbox rows that will repair them. */
interface WatchedWrite {
  readonly outboxIds: readonly string[];
  readonly keys: readonly string[];
}

/**
 * The durable half of the write path. Runs on every instance; each pass:
 * 1. lists outbox rows old enough to be failed writes rather than writes in
 *    progress, and tells the cache to serve their keys from the database, so
 *    an instance learns within one pass of a write that failed on another;
 * 2. locks a batch of rows due for repair (`FOR UPDATE SKIP LOCKED`, so
 *    instances share the work without waiting on each other), reloads the
 *    current rows and writes them through with the same CAS as a mutation,
 *    then deletes the outbox rows. Replaying is idempotent: a lower version
 *    never replaces a higher one.
 * A row that no pass could ever apply (a kind this instance does not know, a
 * load that fails for that row alone) is moved to `cache_outbox_rejected`,
 * logged once and counted, and every other row of the pass is replayed: one
 * bad row must not stop the repair of all the others. A failure that says
 * nothing about the rows (the database or Redis is down) fails the pass, and
 * its rows wait for the next one.
 */
export class CacheRepair {
  private readonly watched = new Set<WatchedWrite>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  private passing = false;
  /** Another program changed entity rows (a trigger's NOTIFY): the next pass claims them, soon. */
  private woken = false;
  private readonly intervalMs: number;
  private readonly repairAfterMs: number;
  private readonly batchSize: number;
  private pending = 0;
  private rejected = 0;
  private countedAt = -Infinity;

  constructor(private readonly options: CacheRepairOptions) {
    this.intervalMs = options.intervalMs ?? 250;
    this.repairAfterMs = options.repairAfterMs ?? 1000;
    this.batchSize = options.batchSize ?? 2000;
  }

  /**
   * Outbox rows not yet cleared, fleet-wide (at most COUNT_CAP), as counted by a pass
   * within the last second or so: kept here so that a metrics scrape reads a number
   * instead of running SQL.
   */
  get outboxPending(): number {
    return this.pending;
  }

  /** Rows set aside in `cache_outbox_rejected`, fleet-wide (at most COUNT_CAP), counted with `outboxPending`. */
  get outboxRejected(): number {
    return this.rejected;
  }

  /**
   * This instance's write-through failed for these rows: repair them first,
   * without waiting for them to age, and read their keys from the database
   * here until then. The repair worker alone marks keys suspect and trusts
   * them again; the engine only reads the marks.
   */
  watch(outboxIds: readonly string[], keys: readonly string[]): void {
    this.options.cache.trust.distrust(keys);
    if (outboxIds.length > 0) this.watched.add({ outboxIds, keys });
  }

  /** Rows recorded by a trigger are waiting (a NOTIFY said so): run a pass now rather than at the next interval. */
  wake(): void {
    this.woken = true;
    if (this.stopped || this.passing) return; // a pass under way is followed by another at once
    clearTimeout(this.timer);
    this.timer = setTimeout(this.loop, WAKE_DELAY_MS);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setTimeout(this.loop, this.intervalMs);
  }

  private readonly loop = (): void => {
    if (this.stopped) return;
    this.passing = true;
    this.running = this.runOnce().then(
      (replayed) => this.next(replayed >= this.batchSize),
      (err: unknown) => {
        this.options.logger.warn({ err }, 'cache repair pass failed');
        this.next(false);
      },
    );
  };

  /** A full batch means more rows are waiting (a backlog, a bulk change by another program): go on at once. */
  private next(full: boolean): void {
    this.passing = false;
    if (!this.stopped) this.timer = setTimeout(this.loop, full ? 0 : this.woken ? WAKE_DELAY_MS : this.intervalMs);
  }

  /** Finishes the pass under way and stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass; resolves to the number of outbox rows replayed. */
  async runOnce(): Promise<number> {
    const { cache, outbox, knex } = this.options;
    // At most once a second, and bounded: passes run back to back while a backlog drains.
    if (Date.now() - this.countedAt >= COUNT_EVERY_MS) {
      const counted = await outbox.count(COUNT_CAP);
      this.pending = counted.pending;
      this.rejected = counted.rejected;
      this.countedAt = Date.now();
    }
    const woken = this.woken;
    this.woken = false;
    await this.forgetRepairedElsewhere();
    const landed = this.options.landed ?? (() => false);
    const overdue = (await outbox.listOlderThan(this.options.suspectAfterMs ?? 200, SCAN_LIMIT)).filter((r) => !landed(r.outboxId));
    // A trigger's row is no failed write that readers should route around; it is due for repair at once.
    const behind = await this.keysBehind(overdue.filter((r) => !r.external));
    cache.trust.setPendingElsewhere(behind);
    const watchedIds = [...this.watched].flatMap((w) => w.outboxIds);
    // Rows recorded by a trigger are due at once: no API instance is still writing them.
    if (!woken && watchedIds.length === 0 && !overdue.some((r) => r.external || r.ageMs >= this.repairAfterMs)) return 0;
    const setAside: OutboxRow[] = [];
    const reasons = new Map<string, string>();
    const handled = await knex.transaction(async (trx) => {
      const rows = await outbox.claim(trx, this.repairAfterMs, watchedIds, this.batchSize);
      if (rows.length === 0) return 0;
      const { entries, drops, rejects } = await this.currentEntries(rows, trx);
      // Set aside whatever happens to the cache write: those rows can never be applied.
      for (const r of rejects) reasons.set(r.outboxId, r.reason);
      setAside.push(...(await outbox.setAside(trx, rejects)));
      // No retries: the rows stay locked meanwhile, and the next pass comes soon.
      if (!(await cache.write(entries, { deletes: drops, retries: 0 }))) return 0;
      const rejected = new Set(rejects.map((r) => r.outboxId));
      const applied = rows.filter((r) => !rejected.has(r.outboxId));
      await outbox.deleteIds(
        applied.map((r) => r.outboxId),
        trx,
      );
      cache.meter.repairs(applied.length);
      this.forget(new Set(rows.map((r) => r.outboxId)));
      const repairedKeys = new Set(entries.map((e) => e.key));
      cache.trust.setPendingElsewhere(new Set([...behind].filter((k) => !repairedKeys.has(k))));
      return rows.length;
    });
    // Once committed: a row set aside is logged and counted once, by the instance that moved it.
    if (setAside.length > 0) {
      cache.meter.outboxRejects(setAside.length);
      for (const row of setAside) {
        this.options.logger.warn(
          { outboxId: row.outboxId, entity: row.entity, entityId: row.id, version: row.version, reason: reasons.get(row.outboxId) },
          'cache repair: outbox row set aside in cache_outbox_rejected; every other row is still replayed (docs/bypass-writes.md says how to replay it)',
        );
      }
    }
    return handled;
  }

  /**
   * The keys of overdue rows whose write did not reach the cache: the cache
   * holds a lower version. A row whose write landed but is not cleared yet, or
   * whose key is simply absent (a reader will load it from the database), is
   * no reason to distrust the cache.
   */
  private async keysBehind(overdue: readonly OutboxRow[]): Promise<Set<string>> {
    const { cache, kinds } = this.options;
    const known = overdue.flatMap((row) => {
      const kind = kinds.get(row.entity);
      return kind === undefined ? [] : [{ row, key: kind.keyOf(row.id) }];
    });
    if (known.length === 0) return new Set();
    const envelopes = await cache.peek(known.map((k) => k.key));
    // Unreadable: nothing is served from the cache now either; when it returns, distrust them all.
    if (envelopes === undefined) return new Set(known.map((k) => k.key));
    const behind = new Set<string>();
    known.forEach(({ row, key }, i) => {
      const envelope = envelopes[i];
      if (envelope && envelope.v < row.version) behind.add(key);
    });
    return behind;
  }

  /**
   * The database's current state of every value the rows name (an entity row,
   * or a list's window); a row that is gone becomes a tombstone. With them, the
   * lookup hints the current rows make stale (another program may have given a
   * row a lookup value that a cached "no such value" hint still denies) and
   * the keys of values that could not be loaded, to drop; and the rows that
   * cannot be applied.
   */
  private async currentEntries(
    rows: readonly OutboxRow[],
    trx: Knex.Transaction,
  ): Promise<{ entries: CacheEntry[]; drops: string[]; rejects: Reject[] }> {
    const { kinds } = this.options;
    const byKind = new Map<string, Map<string, number>>();
    for (const row of rows) {
      const ids = byKind.get(row.entity) ?? byKind.set(row.entity, new Map()).get(row.entity);
      ids?.set(row.id, Math.max(row.version, ids.get(row.id) ?? 0));
    }
    const entries: CacheEntry[] = [];
    const drops: string[] = [];
    const failed = new Map<string, Map<string, string>>();
    for (const [name, versions] of byKind) {
      const kind = kinds.get(name);
      if (!kind) {
        failed.set(name, new Map([...versions.keys()].map((id) => [id, `no kind of cached value is named ${JSON.stringify(name)} here`])));
        continue;
      }
      const unloadable = new Map<string, string>();
      const found = await this.loadApart(kind, [...versions.keys()], trx, unloadable);
      if (unloadable.size > 0) failed.set(name, unloadable);
      for (const [id, recorded] of versions) {
        if (unloadable.has(id)) {
          // Whatever the cache holds for it may be older than the row: readers load it themselves instead.
          drops.push(kind.keyOf(id));
          continue;
        }
        const current = found.get(id);
        entries.push({ key: kind.keyOf(id), version: current ? current.version : recorded, data: current ? current.data : null, shape: kind.shape });
        if (current) drops.push(...kind.hintsOf(current.data));
      }
    }
    const rejects = rows.flatMap((row) => {
      const reason = failed.get(row.entity)?.get(row.id);
      return reason === undefined ? [] : [{ outboxId: row.outboxId, reason }];
    });
    return { entries, drops, rejects };
  }

  /**
   * Loads `ids` of one kind, each attempt in a savepoint (a failed statement
   * must not abort the pass's transaction). When the load fails for a reason
   * that lies in the rows, the ids are split in halves until each failing id
   * stands alone: it goes into `unloadable` with the error, and every other id
   * is loaded. A transient failure fails the pass.
   */
  private async loadApart(
    kind: CachedKind,
    ids: readonly string[],
    trx: Knex.Transaction,
    unloadable: Map<string, string>,
  ): Promise<ReadonlyMap<string, { readonly version: number; readonly data: unknown }>> {
    try {
      return await trx.transaction((savepoint) => kind.load(ids, savepoint));
    } catch (err) {
      if (isTransientDbError(err)) throw err;
      const [only] = ids;
      if (ids.length === 1 && only !== undefined) {
        unloadable.set(only, `loading it failed: ${describe(err)}`.slice(0, REASON_MAX));
        return new Map();
      }
      const half = Math.ceil(ids.length / 2);
      const first = await this.loadApart(kind, ids.slice(0, half), trx, unloadable);
      const second = await this.loadApart(kind, ids.slice(half), trx, unloadable);
      return new Map([...first, ...second]);
    }
  }

  /** Another instance may have replayed our rows: once none is left, our keys are trustworthy again. */
  private async forgetRepairedElsewhere(): Promise<void> {
    if (this.watched.size === 0) return;
    const pending = await this.options.outbox.pending([...this.watched].flatMap((w) => w.outboxIds));
    for (const w of this.watched) {
      if (w.outboxIds.every((id) => !pending.has(id))) {
        this.watched.delete(w);
        this.options.cache.trust.restore(w.keys);
      }
    }
  }

  private forget(repaired: ReadonlySet<string>): void {
    for (const w of this.watched) {
      if (w.outboxIds.every((id) => repaired.has(id))) {
        this.watched.delete(w);
        this.options.cache.trust.restore(w.keys);
      }
    }
  }
}

/** The driver's message and SQLSTATE, without the statement knex puts before them (it holds every id of the load). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err.message;
  const at = err.message.lastIndexOf(' - ');
  return `${at < 0 ? err.message : err.message.slice(at + 3)} (${code})`;
}
