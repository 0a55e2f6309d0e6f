/** What a database error means for the caller, decided from SQLSTATE and driver error codes. */
export type DbFailure =
  /** `columns`: the key Postgres names in its detail (`Key (sku)=(X) already exists`). */
  | { readonly kind: 'unique-violation'; readonly constraint: string | undefined; readonly columns: readonly string[] }
  /** A row named a row that does not exist, or a row still named was deleted. */
  | { readonly kind: 'foreign-key-violation'; readonly constraint: string | undefined; readonly columns: readonly string[] }
  /** NOT NULL, CHECK, a value too long or not of its type: the input broke a rule of the table. */
  | { readonly kind: 'invalid-value'; readonly column: string | undefined; readonly message: string }
  | { readonly kind: 'out-of-range' }
  | { readonly kind: 'retryable' }
  /** `connectionLost`: this connection died (retrying on a fresh one may work); else the database is unreachable or saturated. */
  | { readonly kind: 'unavailable'; readonly connectionLost: boolean }
  | { readonly kind: 'other' };

const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH']);

export function classifyDbError(err: unknown): DbFailure {
  if (typeof err !== 'object' || err === null) return { kind: 'other' };
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown; name?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const constraint = typeof e.constraint === 'string' ? e.constraint : undefined;
  const detail = typeof (e as { detail?: unknown }).detail === 'string' ? ((e as { detail: string }).detail) : '';
  const keyColumns = (): string[] => (/Key \(([^)]*)\)/.exec(detail)?.[1] ?? '').split(',').map((c) => c.trim().replace(/^"|"$/g, '')).filter(Boolean);
  if (code === '23505') return { kind: 'unique-violation', constraint, columns: keyColumns() };
  if (code === '23503') return { kind: 'foreign-key-violation', constraint, columns: keyColumns() };
  if (code === '22003') return { kind: 'out-of-range' };
  // not_null_violation, check_violation, and the data exceptions of class 22 (too long, not a valid value).
  if (code === '23502' || code === '23514' || (code.startsWith('22') && code.length === 5)) {
    const column = typeof (e as { column?: unknown }).column === 'string' ? (e as { column: string }).column : undefined;
    // knex puts the statement before Postgres' own message: only the latter is for a client.
    const text = typeof e.message === 'string' ? e.message : 'invalid value';
    const at = text.lastIndexOf(' - ');
    return { kind: 'invalid-value', column, message: at === -1 ? text : text.slice(at + 3) };
  }
  // serialization_failure, deadlock_detected: the transaction did nothing and may simply run again.
  if (code === '40001' || code === '40P01') return { kind: 'retryable' };
  // admin_shutdown / crash_shutdown / cannot_connect_now: the server ended this session.
  if (code.startsWith('57P') || code.startsWith('08') || code === 'ECONNRESET' || code === 'EPIPE') {
    return { kind: 'unavailable', connectionLost: true };
  }
  const message = typeof e.message === 'string' ? e.message : '';
  if (/Connection terminated|connection is closed|terminating connection|Client has encountered a connection error/i.test(message)) {
    return { kind: 'unavailable', connectionLost: true };
  }
  if (CONNECTION_ERRNOS.has(code) || code === '53300' || e.name === 'KnexTimeoutError') {
    return { kind: 'unavailable', connectionLost: false };
  }
  return { kind: 'other' };
}

/**
 * Whether an error says nothing about the data a statement read: the
 * connection or the server failed, it was cancelled or ran out of time or
 * resources, or it met a conflict that running it again clears. Anything else
 * (a value that does not parse, a row that does not decode) would fail the
 * same way again for the same rows.
 */
export function isTransientDbError(err: unknown): boolean {
  const failure = classifyDbError(err);
  if (failure.kind === 'unavailable' || failure.kind === 'retryable') return true;
  const code = typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : '';
  // 25 invalid transaction state, 40 transaction rollback, 53 insufficient resources,
  // 57 operator intervention (statement_timeout included), 58 system error, XX internal error.
  return /^(25|40|53|57|58|XX)/.test(code);
}
