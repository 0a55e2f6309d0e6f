import type { Knex } from 'knex';
import type { EntityDefinition, JoinTable } from '../entities/define.js';
import type { Queryable } from './entity-sql.js';

/** A committed state of one entity: `data: null` for a deletion, whose version is the last one + 1. */
export interface EntityChange {
  readonly type: string;
  readonly id: string;
  readonly version: number;
  readonly data: unknown;
}

/** A list whose members changed, and the version the change gave it (`owner` is '' for a root list). */
export interface ListChange {
  readonly list: string;
  readonly owner: string;
  readonly version: number;
}

/** A lookup value whose cached hint a change made stale (the value moved to, or away from, a row). */
export interface LookupChange {
  readonly type: string;
  readonly field: string;
  readonly value: string;
}

/** What a statement did to the rows it returns: decides what the cache must reach (a tombstone after a delete). */
export type ChangeKind = 'insert' | 'update' | 'delete';

/** What a change statement declares about itself. */
export interface ChangeOptions {
  /**
   * The fields an UPDATE assigns (besides `version`). When none of them is a
   * column a lookup or a list depends on, what the statement saw of the rows
   * before it cannot hide a list or a hint it changed, so it needs no
   * transaction around it. @default undefined (anything: treated as unknown)
   */
  readonly assigns?: readonly string[];
}

/**
 * A write of exactly one change statement, as the services see it: the
 * statement commits on its own (no BEGIN, no COMMIT: one round trip), with its
 * outbox rows and list versions, which it records in that same statement.
 * Reads before or after it go through `db`, each on its own snapshot.
 */
export interface StatementScope {
  /** Where statements are built and reads run: the pool here, the transaction in a ChangeScope. */
  readonly db: Queryable;
  /**
   * Runs `statement`, an INSERT, UPDATE or DELETE of `entity`'s table that ends
   * with `RETURNING <every column of the entity>` (see entity-sql.ts columnList),
   * and returns the changed rows. Each must have bumped `version` by exactly 1
   * (an insert starts at 1; a delete returns the row as it was). Deleting a row
   * also deletes its join rows (a list of the other side loses it). Once only
   * in a StatementScope.
   */
  change<Row>(entity: EntityDefinition<Row>, kind: ChangeKind, statement: Knex.Raw, options?: ChangeOptions): Promise<Row[]>;
}

/**
 * A write transaction as the services see it. Every statement that changes a
 * cached row, or a join row of a list, goes through this scope, which (in that
 * same statement, at no extra round trip) records the change in the cache
 * outbox, raises the version of every list the change affects, and remembers
 * what the cache must be told after the commit. So no service can forget a list.
 */
export interface ChangeScope extends StatementScope {
  readonly trx: Knex.Transaction;
  /**
   * Runs INSERTs and DELETEs of a join table, each ending with `RETURNING *`,
   * as one statement, and returns the join rows they added or removed: the
   * lists of both sides of each are raised.
   */
  changeLinks(join: JoinTable, statements: readonly Knex.Raw[]): Promise<Record<string, unknown>[]>;
  /** Locks the rows (in key order) for the rest of the transaction and returns them as they are now. */
  lock<Row>(entity: EntityDefinition<Row>, ids: readonly string[]): Promise<Row[]>;
}
