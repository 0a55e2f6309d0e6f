import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsOrigins } from '../config.js';

/**
 * Origins whose web pages may call the GraphQL endpoint: `*` for every origin,
 * or a list of exact origins (`https://shop.example`); an empty list allows none,
 * and then no CORS header is sent at all. Declared with CORS_ORIGINS in config.ts.
 */
export type { CorsOrigins };

/**
 * The request headers a browser client of this server needs. A fixed list
 * rather than an echo of `access-control-request-headers`: `x-router-secret`
 * belongs to routers, which are servers and never need CORS.
 */
export const BROWSER_REQUEST_HEADERS = [
  'content-type',
  'authorization',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'x-request-id',
  'x-freshgraph-debug',
].join(', ');

/**
 * Adds the CORS headers that `origins` allows to a GraphQL response. An origin
 * that is not allowed gets none, preflight or not, so its page cannot read the
 * answer, nor send a request that needs a preflight (a JSON POST, a GET with
 * `apollo-require-preflight`). No `access-control-allow-credentials`: cookies
 * play no part here.
 */
export function corsHeaders(origins: CorsOrigins): (req: IncomingMessage, res: ServerResponse) => void {
  const listed = origins === '*' ? undefined : new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    // The answer depends on the origin, so a shared cache must not reuse it for another one.
    res.setHeader('vary', 'origin');
    if (listed !== undefined && !listed.has(origin)) return;
    res.setHeader('access-control-allow-origin', origin);
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      res.setHeader('access-control-allow-headers', BROWSER_REQUEST_HEADERS);
      res.setHeader('access-control-max-age', '600');
    }
  };
}
