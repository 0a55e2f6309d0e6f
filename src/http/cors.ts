import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsOrigins } from '../config.js';

/**
 * Origins whose web pages may call the GraphQL endpoint: `*` for every origin,
 * `loopback` for pages served from this machine (isLoopbackOrigin), or a list of
 * exact origins (`https://shop.example`); an empty list allows none, and then no
 * CORS header is sent at all. Declared with CORS_ORIGINS in config.ts.
 */
export type { CorsOrigins };

// As WHATWG URL spells them. Other 127.x addresses are loopback too, but no page is served there by accident.
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * http(s)://localhost, 127.0.0.1 or [::1] on any port, exactly as a browser sends it
 * (no path, no default port): a page served from this machine, such as a dev server.
 */
export function isLoopbackOrigin(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname) && url.origin === origin;
}

/** What `origins` admits, for the start-up log. */
export function describeCorsOrigins(origins: CorsOrigins): string {
  if (origins === '*') return 'every origin';
  if (origins === 'loopback') return 'loopback origins only: http(s)://localhost, 127.0.0.1 and [::1], any port';
  if (origins.length === 0) return 'no other origin (no CORS headers are sent)';
  return origins.join(', ');
}

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
  const allowed = allowedBy(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    // The answer depends on the origin, so a shared cache must not reuse it for another one.
    res.setHeader('vary', 'origin');
    if (!allowed(origin)) return;
    res.setHeader('access-control-allow-origin', origin);
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      res.setHeader('access-control-allow-headers', BROWSER_REQUEST_HEADERS);
      res.setHeader('access-control-max-age', '600');
    }
  };
}

function allowedBy(origins: CorsOrigins): (origin: string) => boolean {
  if (origins === '*') return () => true;
  if (origins === 'loopback') return isLoopbackOrigin;
  const listed = new Set(origins);
  return (origin) => listed.has(origin);
}
