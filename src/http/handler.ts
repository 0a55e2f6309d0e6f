import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type HTTPGraphQLRequest } from '@apollo/server';
import { BodyTooLargeError, readBody } from './read-body.js';

export interface HandlerOptions<TContext extends object> {
  readonly apollo: ApolloServer<TContext>;
  readonly context: (req: IncomingMessage) => Promise<TContext>;
  /** @default 1048576 (1 MB) */
  readonly maxBodyBytes?: number;
  /** Extra routes served before GraphQL (health, metrics); return true when handled. */
  readonly routes?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> | boolean;
  /** Headers added to every GraphQL response that Apollo did not set itself. @default [] */
  readonly defaultHeaders?: readonly (readonly [string, string])[];
  readonly onError?: (err: unknown) => void;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const GRAPHQL_PATHS = new Set(['/', '/graphql']);
const JSON_TYPE = /^application\/(graphql-response\+)?json\b/i;

/**
 * Serves GraphQL over node:http through Apollo's transport-neutral entry point.
 * This runs once per request, so it allocates little: no per-request closures
 * beyond the context thunk Apollo requires, headers copied in one pass, the
 * response head written in one call.
 */
export function createHttpHandler<TContext extends object>(options: HandlerOptions<TContext>): Handler {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const onError = options.onError ?? (() => {});
  const defaultHeaders = options.defaultHeaders ?? [];
  // Returned, not assigned to a property, so that no function name is defined per request.
  const contextFor = (req: IncomingMessage) => () => options.context(req);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const search = q === -1 ? '' : url.slice(q);
    if (options.routes && (await options.routes(req, res, path))) return;
    if (!GRAPHQL_PATHS.has(path)) return sendError(res, 404, 'NOT_FOUND', `Nothing is served at ${path}; try /graphql`);
    if (req.headers.origin !== undefined) setCors(req, res);
    if (req.method === 'OPTIONS') {
      res.statusCode = 204;
      res.end();
      return;
    }

    let body: unknown;
    const method = req.method === 'POST' || req.method === 'GET' ? req.method : (req.method ?? 'GET').toUpperCase();
    if (method === 'POST') {
      let text: string;
      try {
        text = await readBody(req, maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLargeError) return sendError(res, 413, 'BAD_REQUEST', err.message);
        throw err;
      }
      const type = req.headers['content-type'] ?? '';
      if (type === 'application/json' || JSON_TYPE.test(type)) {
        try {
          body = text.length === 0 ? undefined : JSON.parse(text);
        } catch {
          return sendError(res, 400, 'BAD_REQUEST', 'The request body is not valid JSON');
        }
      } else {
        body = text;
      }
    }

    const headers = new HeaderMap();
    const raw = req.headers;
    for (const name in raw) {
      const value = raw[name];
      if (value !== undefined) headers.set(name, typeof value === 'string' ? value : value.join(', '));
    }
    const httpGraphQLRequest: HTTPGraphQLRequest = { method, headers, search, body };
    const response = await options.apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest, context: contextFor(req) });

    const head: string[] = [];
    for (const [name, value] of response.headers) head.push(name, value);
    for (const [name, value] of defaultHeaders) if (!response.headers.has(name)) head.push(name, value);
    res.writeHead(response.status ?? 200, head);
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return (req, res) => {
    serve(req, res).catch((err: unknown) => {
      onError(err);
      if (!res.headersSent) sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      else res.destroy();
    });
  };
}

/** A GraphQL-shaped error for failures that happen before GraphQL runs. */
export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

function setCors(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'origin');
  if (req.method === 'OPTIONS') {
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader(
      'access-control-allow-headers',
      req.headers['access-control-request-headers'] ?? 'content-type, apollo-require-preflight',
    );
    res.setHeader('access-control-max-age', '600');
  }
}
