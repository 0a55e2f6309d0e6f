import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import type { CacheEntry, EntityCache } from '../cache/entity-cache.js';
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
 * 1. run `work` in a transaction, which also records the changes in the outbox;
 * 2. after the commit (never before), write the changes through to the cache
 *    in one round trip, with retries;
 * 3. on success, clear the outbox rows (batched, later); on failure, read those
 *    keys from the database here until the repair worker has replayed them.
 */
export class WriteThrough {
  constructor(private readonly deps: WriteThroughDeps) {}

  async commit<R>(work: (trx: Knex.Transaction) => Promise<Committed<R>>, onUniqueViolation?: () => AppError): Promise<R> {
    const { knex, cache, outbox } = this.deps;
    const started = performance.now();
    let outboxIds: string[] = [];
    let committed: Committed<R>;
    try {
      committed = await inTransaction(knex, async (trx) => {
        const out = await work(trx);
        outboxIds = cache.enabled ? await outbox.record(trx, out.changes.map(({ type, id, version }) => ({ entity: type, id, version }))) : [];
        return out;
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
