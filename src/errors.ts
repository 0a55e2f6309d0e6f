import { GraphQLError } from 'graphql';

/** Every code a client can see in `extensions.code`. */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  INSUFFICIENT_STOCK: 'INSUFFICIENT_STOCK',
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  IN_USE: 'IN_USE',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  EXECUTION_TIMEOUT: 'EXECUTION_TIMEOUT',
  RESPONSE_TOO_LARGE: 'RESPONSE_TOO_LARGE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * A failure the client caused or may act on. Only these (and GraphQL's own
 * parse/validation errors) reach clients unmasked; see `formatError`.
 */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(message, { extensions: { ...details, code }, originalError: cause instanceof Error ? cause : undefined });
    this.code = code;
  }
}

export const badInput = (message: string, field?: string): AppError =>
  new AppError(ErrorCode.BAD_USER_INPUT, message, field === undefined ? {} : { field });

export const notFound = (type: string, id: string): AppError =>
  new AppError(ErrorCode.NOT_FOUND, `${type} ${id} does not exist`, { type, id });

export const versionConflict = (type: string, id: string, expected: number, actual: number): AppError =>
  new AppError(
    ErrorCode.VERSION_CONFLICT,
    `${type} ${id} is at version ${actual}, not the expected ${expected}`,
    { type, id, expectedVersion: expected, currentVersion: actual },
  );

export const insufficientStock = (id: string, stock: number, delta: number): AppError =>
  new AppError(ErrorCode.INSUFFICIENT_STOCK, `Product ${id} has ${stock} in stock; cannot apply ${delta}`, {
    id,
    stock,
    delta,
  });

export const insufficientFunds = (id: string, balanceCents: number, amountCents: number): AppError =>
  new AppError(
    ErrorCode.INSUFFICIENT_FUNDS,
    `Account ${id} holds ${balanceCents} cents; cannot debit ${amountCents}`,
    { id, balanceCents, amountCents },
  );

export const alreadyExists = (type: string, field: string, value?: string): AppError =>
  new AppError(ErrorCode.ALREADY_EXISTS, value === undefined ? `A ${type} with that ${field} already exists` : `A ${type} with ${field} "${value}" already exists`, {
    type,
    field,
  });

export const inUse = (type: string, id: string, reason: string): AppError =>
  new AppError(ErrorCode.IN_USE, `${type} ${id} cannot be deleted: ${reason}`, { type, id });

export const serviceUnavailable = (message: string, cause?: unknown): AppError =>
  new AppError(ErrorCode.SERVICE_UNAVAILABLE, message, {}, cause);

export const executionTimeout = (timeoutMs: number): AppError =>
  new AppError(
    ErrorCode.EXECUTION_TIMEOUT,
    `The request ran past its deadline of ${timeoutMs} ms; fields it had not started by then were not run. Ask for less at once`,
    { max: timeoutMs },
  );

export const waitedTooLong = (waitedMs: number): AppError =>
  new AppError(
    ErrorCode.EXECUTION_TIMEOUT,
    `The server was busy: the request waited ${waitedMs} ms for its turn and ran nothing. Retry it, or ask for less at once`,
    { max: waitedMs },
  );

/** Codes that GraphQL and Apollo Server themselves produce for bad requests; safe to show. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
]);

export interface FormattedErrorLike {
  message: string;
  locations?: readonly { line: number; column: number }[];
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
}

/**
 * Masks everything that is not a deliberate, coded client error. The stack
 * and the SQL text of an unknown failure go to the log, never to the client.
 */
export function maskError(
  formatted: FormattedErrorLike,
  error: unknown,
  logUnknown: (err: unknown) => void,
): FormattedErrorLike {
  const cause = innermost(error);
  if (cause instanceof AppError) {
    return { ...formatted, extensions: { ...cause.extensions } };
  }
  // GraphQL's and Apollo's own request errors have no foreign (non-GraphQL) cause.
  const code = formatted.extensions?.['code'];
  if (isGraphQLError(cause) && typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  if (isUncodedClientError(cause)) {
    return { message: formatted.message, extensions: { code: 'BAD_REQUEST' } };
  }
  logUnknown(cause);
  return {
    message: 'Internal server error',
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}

/**
 * GraphQLError is checked by its tag, not instanceof: Apollo and graphql-js may
 * load a different copy of the graphql package (CommonJS vs ESM) than ours.
 */
function isGraphQLError(value: unknown): boolean {
  return Object.prototype.toString.call(value) === '[object GraphQLError]';
}

/**
 * An error Apollo Server raises about the request itself with an HTTP 4xx status
 * but no code (an automatic persisted query whose hash does not match its text,
 * or of an unsupported version): without a code it would be reported as
 * INTERNAL_SERVER_ERROR, although the client made the mistake.
 */
function isUncodedClientError(error: unknown): boolean {
  if (!isGraphQLError(error)) return false;
  const { extensions, originalError } = error as { extensions?: Record<string, unknown>; originalError?: unknown };
  if (extensions?.['code'] !== undefined || (originalError !== undefined && originalError !== null)) return false;
  const status = (extensions?.['http'] as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** The error at the bottom of a chain of GraphQL wrappers (a resolver's own throw, or GraphQL's). */
function innermost(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && isGraphQLError(current) && !(current instanceof AppError); depth++) {
    const inner = (current as { originalError?: unknown }).originalError;
    if (inner === undefined || inner === null) break;
    current = inner;
  }
  return current;
}
