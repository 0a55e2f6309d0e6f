import type { Knex } from 'knex';
import { classifyDbError } from './pg-errors.js';

export interface TransactionOptions {
  /** Extra attempts after a serialization failure or deadlock. @default 3 */
  readonly retries?: number;
}

/**
 * Runs `work` in a transaction that commits when it resolves and rolls back when
 * it throws. Serialization failures and deadlocks abort the whole transaction
 * without effect, so they are retried a bounded number of times.
 */
export async function inTransaction<T>(
  knex: Knex,
  work: (trx: Knex.Transaction) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await knex.transaction(work);
    } catch (err) {
      if (attempt >= retries || classifyDbError(err).kind !== 'retryable') throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt));
    }
  }
}
