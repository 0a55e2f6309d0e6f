import type { Knex } from 'knex';
import { classifyDbError } from './pg-errors.js';

export interface TransactionOptions {
  /** Extra attempts after a failure that provably changed nothing. @default 3 */
  readonly retries?: number;
}

/**
 * Runs `work` in a transaction that commits when it resolves and rolls back
 * when it throws. Retried, a bounded number of times, only when the failed
 * attempt provably changed nothing: a serialization failure or deadlock, or a
 * lost connection before COMMIT was sent. A connection lost during COMMIT
 * leaves the outcome unknown: that error is thrown for the caller to report.
 */
export async function inTransaction<T>(
  knex: Knex,
  work: (trx: Knex.Transaction) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    let committing = false;
    try {
      return await knex.transaction(async (trx) => {
        const result = await work(trx);
        committing = true;
        return result;
      });
    } catch (err) {
      const failure = classifyDbError(err);
      const nothingHappened =
        failure.kind === 'retryable' || (failure.kind === 'unavailable' && failure.connectionLost && !committing);
      if (attempt >= retries || !nothingHappened) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt));
    }
  }
}

/**
 * Runs one statement on its own, autocommitted: its completion is its commit.
 * Retried only when it provably changed nothing: a serialization failure or
 * deadlock (the statement was rolled back), or no connection to be had. A
 * connection lost while it ran leaves the outcome unknown, and is thrown.
 */
export async function autocommitted<T>(run: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const failure = classifyDbError(err);
      const nothingHappened = failure.kind === 'retryable' || (failure.kind === 'unavailable' && !failure.connectionLost);
      if (attempt >= retries || !nothingHappened) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt));
    }
  }
}
