import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, RefetchEventManager, windowFocusSource } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { fromEvent, merge, tap, throttleTime } from 'rxjs';
import { codeOf, errorCodesOf } from './errors.js';

/** freshgraph's debug view (`extensions.cache`), sent when the server runs with DEBUG_EXTENSIONS=true. */
export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly redisRoundTrips: number;
  readonly sqlStatements: number;
}

/** One GraphQL request as the debug panel shows it. */
export interface RequestRecord {
  readonly at: Date;
  readonly operationName: string;
  readonly operationType: string;
  /** Undefined when the server sent no debug view (DEBUG_EXTENSIONS is off, or NODE_ENV=production). */
  readonly cache: CacheStats | undefined;
  readonly errorCodes: readonly string[];
}

/**
 * Apollo Client for the page: every request asks for the debug view, every
 * response is reported to `onResponse`, and active queries refetch when the
 * window gets focus back, which is when a person looks at it again.
 */
export function createClient(graphqlUrl: string, onResponse: (record: RequestRecord) => void): ApolloClient {
  const record = (operation: ApolloLink.Operation, cache: CacheStats | undefined, errorCodes: readonly string[]) =>
    onResponse({
      at: new Date(),
      operationName: operation.operationName ?? '(anonymous)',
      operationType: operation.operationType,
      cache,
      errorCodes,
    });
  const debugLink = new ApolloLink((operation, forward) =>
    forward(operation).pipe(
      tap({
        next: (result) => {
          const errors = 'errors' in result ? result.errors : undefined;
          record(operation, cacheStatsOf(result.extensions), (errors ?? []).map((e) => codeOf(e.extensions)));
        },
        error: (err: unknown) => record(operation, undefined, errorCodesOf(err)),
      }),
    ),
  );
  // The server ignores the header unless DEBUG_EXTENSIONS=true, so sending it always is harmless.
  const httpLink = new HttpLink({ uri: graphqlUrl, headers: { 'x-freshgraph-debug': '1' } });

  return new ApolloClient({
    link: ApolloLink.from([debugLink, httpLink]),
    cache: new InMemoryCache({
      typePolicies: {
        // One list per account whatever `first` and `after` are: a page after a cursor is appended to it,
        // a first page (a refetch, placeOrder's answer) replaces it, so no page older than the head stays.
        Account: { fields: { orders: relayStylePagination() } },
      },
    }),
    refetchEventManager: new RefetchEventManager({
      // Apollo's source fires when the tab becomes visible; `focus` also covers two windows side by side.
      // Switching tabs fires both: one read is enough.
      sources: { windowFocus: () => merge(windowFocusSource(), fromEvent(window, 'focus')).pipe(throttleTime(250)) },
    }),
  });
}

function cacheStatsOf(extensions: Record<string, unknown> | undefined): CacheStats | undefined {
  const cache = extensions?.['cache'];
  if (typeof cache !== 'object' || cache === null) return undefined;
  const { hits, misses, redisRoundTrips, sqlStatements } = cache as Record<string, unknown>;
  if (typeof hits !== 'number' || typeof misses !== 'number' || typeof redisRoundTrips !== 'number' || typeof sqlStatements !== 'number') {
    return undefined;
  }
  return { hits, misses, redisRoundTrips, sqlStatements };
}
