import { CombinedGraphQLErrors, ServerError } from '@apollo/client';

interface CodedError {
  readonly code: string;
  readonly message: string;
}

/**
 * What went wrong, as `extensions.code` and message pairs. freshgraph puts a code
 * on every error, also on the ones it answers with an HTTP error status (403, 413...).
 */
export function codedErrorsOf(err: unknown): CodedError[] {
  if (CombinedGraphQLErrors.is(err)) return err.errors.map((e) => ({ code: codeOf(e.extensions), message: e.message }));
  if (ServerError.is(err)) {
    const fromBody = errorsInBody(err.bodyText);
    return fromBody.length > 0 ? fromBody : [{ code: `HTTP_${err.statusCode}`, message: err.message }];
  }
  return [{ code: 'NETWORK_ERROR', message: err instanceof Error ? err.message : String(err) }];
}

export const errorCodesOf = (err: unknown): string[] => codedErrorsOf(err).map((e) => e.code);

/** One line for a person: "INSUFFICIENT_STOCK: Product ... has 0 in stock; cannot apply -1". */
export const describeError = (err: unknown): string =>
  codedErrorsOf(err)
    .map((e) => `${e.code}: ${e.message}`)
    .join('; ');

export function codeOf(extensions: Readonly<Record<string, unknown>> | undefined): string {
  const code = extensions?.['code'];
  return typeof code === 'string' ? code : 'ERROR';
}

function errorsInBody(bodyText: string): CodedError[] {
  try {
    const body: unknown = JSON.parse(bodyText);
    const errors = typeof body === 'object' && body !== null ? (body as { errors?: unknown }).errors : undefined;
    if (!Array.isArray(errors)) return [];
    return errors.map((e: { message?: unknown; extensions?: Record<string, unknown> }) => ({
      code: codeOf(e.extensions),
      message: typeof e.message === 'string' ? e.message : '',
    }));
  } catch {
    return [];
  }
}
