import type { Knex } from 'knex';
import type { EntityDefinition } from '../entities/define.js';

/** A committed state of one entity: `data: null` for a deletion, whose version is the last one + 1. */
export interface EntityChange {
  readonly type: string;
  readonly id: string;
  readonly version: number;
  readonly data: unknown;
}

/** What a statement did to the rows it returns: decides what the cache must reach (a tombstone after a delete). */
export type ChangeKind = 'insert' | 'update' | 'delete';

/**
 * A write transaction as the services see it. Every statement that changes a
 * cached row goes through `change()`, which records each changed row in the
 * cache outbox within that same statement (durability at no extra round trip)
 * and remembers the row's new state for the write-through after the commit.
 */
export interface ChangeScope {
  readonly trx: Knex.Transaction;
  /**
   * Runs `statement`, an INSERT, UPDATE or DELETE of `entity`'s table that ends
   * with `RETURNING <every column of the entity>` (see entity-sql.ts columnList),
   * and returns the changed rows. Each must have bumped `version` by exactly 1
   * (an insert starts at 1; a delete returns the row as it was).
   */
  change<Row>(entity: EntityDefinition<Row>, kind: ChangeKind, statement: Knex.Raw): Promise<Row[]>;
  /** Locks the rows (in id order) for the rest of the transaction and returns them as they are now. */
  lock<Row>(entity: EntityDefinition<Row>, ids: readonly string[]): Promise<Row[]>;
}
