import type { Logger } from 'pino';
import type { RequestContext } from '../context.js';
import type { FinishedRequest } from '../http/handler.js';
import type { Metrics } from './metrics.js';

/**
 * What happens when a GraphQL request has been answered: it is counted and
 * timed by operation type, and logged as one line with its request id, method,
 * path, operation, status, duration and cache hits and misses. Never its
 * variables, its query text, its query string or its headers.
 */
export function createRequestObserver(logger: Logger, metrics: Metrics | undefined) {
  return (finished: FinishedRequest<RequestContext>): void => {
    const meta = finished.context?.meta;
    metrics?.observeRequest(meta?.operationType ?? 'none', finished.status, finished.durationMs / 1000);
    if (!logger.isLevelEnabled('info')) return;
    const stats = finished.context?.loaders.stats;
    logger.info(
      {
        reqId: finished.requestId,
        method: finished.method,
        path: finished.path,
        operation: meta?.operationName,
        type: meta?.operationType,
        status: finished.status,
        durationMs: Math.round(finished.durationMs * 100) / 100,
        cacheHits: stats?.hits,
        cacheMisses: stats?.misses,
        // A refusal replaced whatever GraphQL would have sent (RESPONSE_TOO_LARGE), errors included.
        errors: finished.refusal === undefined ? meta?.errorCodes : [finished.refusal],
      },
      'request',
    );
  };
}
