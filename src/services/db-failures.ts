import { AppError, badInput, serviceUnavailable } from '../errors.js';
import { classifyDbError } from '../db/pg-errors.js';

/**
 * Turns a failed transaction into the error the client sees. Coded errors pass
 * through; an unknown failure is returned as is, for the server to log and mask.
 */
export function toClientError(err: unknown, onUniqueViolation?: () => AppError): unknown {
  if (err instanceof AppError) return err;
  const failure = classifyDbError(err);
  switch (failure.kind) {
    case 'unique-violation':
      return onUniqueViolation ? onUniqueViolation() : err;
    case 'out-of-range':
      return badInput('A resulting number is out of range (the largest allowed is 2147483647)');
    case 'retryable':
      // Every attempt met a concurrent change (db/transaction.ts): none of them committed.
      return serviceUnavailable('The change met concurrent changes on every attempt and was not made; it is safe to send again', err);
    case 'unavailable':
      // The commit may or may not have happened: the cache is left alone and the client is told so.
      return serviceUnavailable('The database is unavailable; the outcome of this change is unknown', err);
    default:
      return err;
  }
}
