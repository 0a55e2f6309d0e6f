import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import type { CacheEntry, EntityCache } from '../cache/entity-cache.js';
import type { ChangeKind, ChangeScope, EntityChange } from '../db/change-scope.js';
import { lockByIds } from '../db/entity-sql.js';
import type { OutboxRepository } from '../db/outbox-repository.js';
import { rowsOf } from '../db/rows.js';
import { inTransaction } from '../db/transaction.js';
import type { EntityDefinition } from '../entities/define.js';
import type { AppError } from '../errors.js';
import type { CacheRepair } from './cache-repair.js';
import { toClientError } from './db-failures.js';
import type { OutboxClearer } from './outbox-clearer.js';

export type { EntityChange };

export interface WriteOptions {
  /** The coded error a unique violation means for this write (ALREADY_EXISTS for a taken sku, say). @default undefined (masked) */
  readonly onUniqueViolation?: () => AppError;
}

/** What a service writes through: a transaction whose changed rows reach the cache after its commit. */
export interface Writes {
  commit<R>(work: (scope: ChangeScope) => Promise<R>, options?: WriteOptions): Promise<R>;
}

/** The outbox and the workers around it; absent when the cache keeps nothing (CACHE_MODE=off). */
export interface Durability {
  readonly outbox: OutboxRepository;
  readonly clearer: OutboxClearer;
  readonly repair: CacheRepair;
}

export interface WriteThroughDeps {
  readonly knex: Knex;
  readonly cache: EntityCache;
  /** @default undefined: nothing is recorded, so nothing can be repaired */
  readonly durability?: Durability;
  /** Told of every committed change (the consistency sampler). @default undefined */
  readonly onCommitted?: (changes: readonly EntityChange[]) => void;
}

/**
 * The write path shared by every entity:
 * 1. run `work` in a transaction; each statement that changes cached rows
 *    records them in the outbox within that same statement, and the scope
 *    remembers their new state (the last one per row);
 * 2. after the commit (never before), write every changed row through to the
 *    cache in one round trip, with retries, together with the secondary lookup
 *    keys the change made stale;
 * 3. on success, clear the outbox rows (batched, later); on failure, read those
 *    keys from the database here until the repair worker has replayed them.
 */
export class WriteThrough implements Writes {
  constructor(private readonly deps: WriteThroughDeps) {}

  commit<R>(work: (scope: ChangeScope) => Promise<R>, options: WriteOptions = {}): Promise<R> {
    return this.run(work, options, undefined);
  }

  /** The same writes, also handing what committed to `observe` (a request primes its loaders with it). */
  observed(observe: (changes: readonly EntityChange[]) => void): Writes {
    return { commit: (work, options = {}) => this.run(work, options, observe) };
  }

  private async run<R>(
    work: (scope: ChangeScope) => Promise<R>,
    options: WriteOptions,
    observe: ((changes: readonly EntityChange[]) => void) | undefined,
  ): Promise<R> {
    const { knex, cache, durability } = this.deps;
    const started = performance.now();
    let scope: RecordingScope | undefined;
    let result: R;
    try {
      result = await inTransaction(knex, async (trx) => {
        // A retried attempt starts again from nothing.
        scope = new RecordingScope(trx, durability?.outbox, cache);
        return work(scope);
      });
    } catch (err) {
      throw toClientError(err, options.onUniqueViolation);
    }
    const done = scope as RecordingScope;
    const changes = [...done.changes.values()];
    if (changes.length > 0 || done.staleLookups.size > 0) {
      const entries: CacheEntry[] = changes.map((c) => ({ key: cache.keys.entity(c.type, c.id), version: c.version, data: c.data }));
      const landed = await cache.writeThrough(entries, { deletes: [...done.staleLookups], loadMs: performance.now() - started });
      if (durability !== undefined) {
        if (landed) {
          durability.clearer.enqueue(done.outboxIds);
        } else {
          const keys = entries.map((e) => e.key);
          cache.markSuspect(keys);
          durability.repair.watch(done.outboxIds, keys);
        }
      }
      this.deps.onCommitted?.(changes);
      observe?.(changes);
    }
    return result;
  }
}

/** One transaction attempt's ChangeScope: runs the statements and remembers what they changed. */
class RecordingScope implements ChangeScope {
  /** The latest state of every changed row, by `<type>:<id>`. */
  readonly changes = new Map<string, EntityChange>();
  readonly outboxIds: string[] = [];
  /** Secondary lookup keys whose value moved away from (or to) a row: dropped with the write-through. */
  readonly staleLookups = new Set<string>();
  /** Rows as `lock()` found them, for the lookup values an update may move. */
  private readonly before = new Map<string, Readonly<Record<string, unknown>>>();

  constructor(
    readonly trx: Knex.Transaction,
    private readonly outbox: OutboxRepository | undefined,
    private readonly cache: EntityCache,
  ) {}

  async lock<Row>(entity: EntityDefinition<Row>, ids: readonly string[]): Promise<Row[]> {
    const rows = await lockByIds(this.trx, entity, ids);
    if (entity.lookups.size > 0) for (const row of rows) this.before.set(keyOf(entity, row as Record<string, unknown>), row as Record<string, unknown>);
    return rows;
  }

  async change<Row>(entity: EntityDefinition<Row>, kind: ChangeKind, statement: Knex.Raw): Promise<Row[]> {
    let raws: Record<string, unknown>[];
    if (this.outbox === undefined) {
      raws = rowsOf(await statement);
    } else {
      const recorded = await this.outbox.changeAndRecord(this.trx, entity.type, statement, kind === 'delete');
      raws = recorded.rows;
      this.outboxIds.push(...recorded.outboxIds);
    }
    const rows = raws.map((raw) => entity.decode(raw));
    for (const row of rows) {
      const r = row as Record<string, unknown>;
      const id = String(r['id']);
      const version = Number(r['version']);
      const key = keyOf(entity, r);
      this.changes.set(key, kind === 'delete' ? { type: entity.type, id, version: version + 1, data: null } : { type: entity.type, id, version, data: row });
      if (entity.lookups.size > 0) this.noteLookups(entity, kind, r, this.before.get(key));
    }
    return rows;
  }

  private noteLookups(entity: EntityDefinition<unknown>, kind: ChangeKind, row: Readonly<Record<string, unknown>>, before: Readonly<Record<string, unknown>> | undefined): void {
    const { keys } = this.cache;
    for (const field of entity.lookups.keys()) {
      const value = row[field];
      // An update whose previous state was not locked leaves its hints alone: a hint is verified on every use.
      const previous = kind === 'update' ? before?.[field] : undefined;
      if (kind !== 'update' || (before !== undefined && previous !== value)) {
        if (typeof value === 'string') this.staleLookups.add(keys.lookup(entity.type, field, value));
        if (typeof previous === 'string') this.staleLookups.add(keys.lookup(entity.type, field, previous));
      }
    }
  }
}

const keyOf = (entity: EntityDefinition<unknown>, row: Readonly<Record<string, unknown>>): string => `${entity.type}:${String(row['id'])}`;
