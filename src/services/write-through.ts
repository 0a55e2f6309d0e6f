import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import type { CacheEntry, EntityCache } from '../cache/entity-cache.js';
import type { ChangeScope } from '../db/change-scope.js';
import { rowsOf } from '../db/rows.js';
import type { OutboxRepository } from '../db/outbox-repository.js';
import { inTransaction } from '../db/transaction.js';
import type { AppError } from '../errors.js';
import type { CacheRepair } from './cache-repair.js';
import type { ConsistencySampler } from './consistency-sampler.js';
import { toClientError } from './db-failures.js';
import type { OutboxClearer } from './outbox-clearer.js';

/** A committed state of one entity: `data: null` for a deletion, whose version is the last one + 1. */
export interface EntityChange<T = unknown> {
  readonly type: string;
  readonly id: string;
  readonly version: number;
  readonly data: T | null;
}

export interface Committed<R> {
  readonly result: R;
  /** Every entity state the transaction produced; all go to the cache in one round trip. */
  readonly changes: readonly EntityChange[];
  /** Related keys that must not survive the change (stale secondary lookups). */
  readonly invalidate?: readonly string[];
}

export interface WriteThroughDeps {
  readonly knex: Knex;
  readonly cache: EntityCache;
  readonly outbox: OutboxRepository;
  readonly clearer: OutboxClearer;
  readonly repair: CacheRepair;
  readonly sampler?: ConsistencySampler;
}

/**
 * The write path shared by every entity:
 * 1. run `work` in a transaction; each statement that changes cached rows
 *    records them in the outbox within that same statement (ChangeScope);
 * 2. after the commit (never before), write the changes through to the cache
 *    in one round trip, with retries;
 * 3. on success, clear the outbox rows (batched, later); on failure, read those
 *    keys from the database here until the repair worker has replayed them.
 */
export class WriteThrough {
  constructor(private readonly deps: WriteThroughDeps) {}

  async commit<R>(work: (scope: ChangeScope) => Promise<Committed<R>>, onUniqueViolation?: () => AppError): Promise<R> {
    const { knex, cache, outbox } = this.deps;
    const started = performance.now();
    let outboxIds: string[] = [];
    let committed: Committed<R>;
    try {
      committed = await inTransaction(knex, async (trx) => {
        // A retried attempt starts again from nothing.
        outboxIds = [];
        const scope: ChangeScope = {
          trx,
          change: async (entity, statement, deleted = false) => {
            // CACHE_MODE=off keeps no outbox: there is nothing to repair.
            if (!cache.enabled) return rowsOf(await statement.transacting(trx));
            const { rows, outboxIds: ids } = await outbox.changeAndRecord(trx, entity, statement, deleted);
            outboxIds.push(...ids);
            return rows;
          },
        };
        return work(scope);
      });
    } catch (err) {
      throw toClientError(err, onUniqueViolation);
    }
    const entries: CacheEntry[] = committed.changes.map((c) => ({
      key: cache.keys.entity(c.type, c.id),
      version: c.version,
      data: c.data,
    }));
    const landed = await cache.writeThrough(entries, committed.invalidate ?? [], performance.now() - started);
    if (landed) {
      this.deps.clearer.enqueue(outboxIds);
    } else {
      const keys = entries.map((e) => e.key);
      cache.markSuspect(keys);
      this.deps.repair.watch(outboxIds, keys);
    }
    this.deps.sampler?.note(committed.changes);
    return committed.result;
  }
}
