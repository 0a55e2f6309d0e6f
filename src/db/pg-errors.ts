/** What a database error means for the caller, decided from SQLSTATE and driver error codes. */
export type DbFailure =
  | { readonly kind: 'unique-violation'; readonly constraint: string | undefined }
  | { readonly kind: 'out-of-range' }
  | { readonly kind: 'retryable' }
  | { readonly kind: 'unavailable' }
  | { readonly kind: 'other' };

const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH']);

export function classifyDbError(err: unknown): DbFailure {
  if (typeof err !== 'object' || err === null) return { kind: 'other' };
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown; name?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (code === '23505') return { kind: 'unique-violation', constraint: typeof e.constraint === 'string' ? e.constraint : undefined };
  if (code === '22003') return { kind: 'out-of-range' };
  // serialization_failure, deadlock_detected: the transaction did nothing and may simply run again.
  if (code === '40001' || code === '40P01') return { kind: 'retryable' };
  // connection_exception (08xxx), admin/crash shutdown (57P0x), too many connections, pool timeouts.
  if (code.startsWith('08') || code.startsWith('57P') || code === '53300' || CONNECTION_ERRNOS.has(code)) {
    return { kind: 'unavailable' };
  }
  const message = typeof e.message === 'string' ? e.message : '';
  if (
    e.name === 'KnexTimeoutError' ||
    /Connection terminated|Client has encountered a connection error|connection is closed|terminating connection/i.test(message)
  ) {
    return { kind: 'unavailable' };
  }
  return { kind: 'other' };
}
