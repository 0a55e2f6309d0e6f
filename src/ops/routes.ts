import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import { bodyStillArriving, closeAfterResponse } from '../http/read-body.js';

export interface OpsRoutesOptions {
  /** Answers /readyz; see ops/readiness.ts. */
  readonly readiness: () => Promise<Readiness>;
  /** Serves /metrics when given. */
  readonly metrics?: Metrics;
  readonly logger: Logger;
}

/**
 * The platform's routes, on the GraphQL port but outside the router secret:
 * `/healthz` (the process serves HTTP), `/readyz` (Postgres and Redis answer in
 * time; 503 naming the part that does not), `/metrics` (Prometheus text format).
 */
export function createOpsRoutes(options: OpsRoutesOptions) {
  const { logger, metrics } = options;
  let wasReady: boolean | undefined;

  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('allow', 'GET, HEAD');
      if (bodyStillArriving(req)) closeAfterResponse(req, res);
      res.end();
      return true;
    }
    res.setHeader('cache-control', 'no-store');
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
    } else if (path === '/readyz') {
      const readiness = await options.readiness();
      if (readiness.ready !== wasReady) {
        if (readiness.ready) logger.info({ checks: readiness.checks }, 'ready');
        else logger.warn({ checks: readiness.checks, errors: messages(readiness.errors) }, 'not ready');
        wasReady = readiness.ready;
      }
      sendJson(res, readiness.ready ? 200 : 503, { status: readiness.ready ? 'ready' : 'unavailable', checks: readiness.checks });
    } else if (metrics === undefined) {
      sendJson(res, 404, { status: 'metrics are not enabled' });
    } else {
      const text = await metrics.registry.metrics();
      res.statusCode = 200;
      res.setHeader('content-type', metrics.registry.contentType);
      res.end(text);
    }
    return true;
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

const messages = (errors: Readonly<Record<string, unknown>>) =>
  Object.fromEntries(Object.entries(errors).map(([name, err]) => [name, err instanceof Error ? err.message : String(err)]));
