import type { Knex } from 'knex';

/**
 * What a repository needs to change rows inside a transaction. A statement
 * that changes cached rows goes through `change()`, which may record each
 * changed row in the cache outbox within the same statement (see
 * OutboxRepository.changeAndRecord): durability at no extra round trip.
 */
export interface ChangeScope {
  readonly trx: Knex.Transaction;
  /**
   * Runs `statement` (an INSERT, UPDATE or DELETE ... RETURNING the changed rows
   * of `entity`, with their `id` and `version`) and returns those rows.
   * `deleted`: the rows are gone, so what the cache must reach is a tombstone
   * one version above them.
   */
  change(entity: string, statement: Knex.Raw, deleted?: boolean): Promise<Record<string, unknown>[]>;
}
