import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { CATALOGUE_PATH, type Catalogue } from '../shared/catalogue.js';

export interface PageServerOptions {
  /** The built page (Vite's outDir). */
  readonly root: string;
  /** freshgraph's GraphQL endpoint, where `/graphql` is forwarded. */
  readonly graphqlUrl: string;
  /** Served as `/storefront.json`. */
  readonly catalogue: Catalogue;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** @default 0 (a free port) */
  readonly port?: number;
}

export interface PageServer {
  /** The page's address, e.g. http://127.0.0.1:4173/ */
  readonly url: string;
  close(): Promise<void>;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

// Hop-by-hop headers belong to one connection and are not forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/**
 * Serves the built page and forwards `/graphql` to freshgraph, so the page and
 * its API share one origin: the browser sends no CORS preflight and the server
 * needs no CORS_ORIGINS entry for it.
 */
export async function servePage(options: PageServerOptions): Promise<PageServer> {
  const root = resolve(options.root);
  const upstream = new URL(options.graphqlUrl);
  const agent = new Agent({ keepAlive: true });
  const catalogue = JSON.stringify({ graphqlUrl: '/graphql', ...options.catalogue } satisfies Catalogue);

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://page').pathname;
    if (path === '/graphql') return forward(req, res, upstream, agent);
    if (path === CATALOGUE_PATH) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return void res.end(catalogue);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      return void res.end();
    }
    void sendFile(res, root, path === '/' ? '/index.html' : path, req.method === 'HEAD');
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the page server has no address');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

function forward(req: IncomingMessage, res: ServerResponse, upstream: URL, agent: Agent): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  headers['host'] = upstream.host;
  const search = new URL(req.url ?? '/', 'http://page').search;
  const outgoing = request(
    { hostname: upstream.hostname, port: upstream.port, path: upstream.pathname + search, method: req.method, headers, agent },
    (answer) => {
      const responseHeaders: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) responseHeaders[name] = value;
      }
      res.writeHead(answer.statusCode ?? 502, responseHeaders);
      answer.pipe(res);
    },
  );
  outgoing.on('error', (err) => {
    if (res.headersSent) return void res.destroy(err);
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ message: `freshgraph is not reachable: ${err.message}`, extensions: { code: 'BAD_GATEWAY' } }] }));
  });
  req.pipe(outgoing);
}

async function sendFile(res: ServerResponse, root: string, path: string, headOnly: boolean): Promise<void> {
  try {
    const file = join(root, decodeURIComponent(path));
    // `join` resolves `..`; anything that lands outside the build is not ours to serve.
    if (!file.startsWith(root + sep)) return notFound(res);
    const info = await stat(file);
    if (!info.isFile()) return notFound(res);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': info.size,
      // Vite puts a content hash in every asset's name; only index.html must be asked for again.
      'cache-control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (headOnly) return void res.end();
    createReadStream(file).pipe(res);
  } catch {
    notFound(res);
  }
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
}
