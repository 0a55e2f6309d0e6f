import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { HeaderMap, type ApolloServer, type HTTPGraphQLRequest } from '@apollo/server';
import { acceptsGraphqlResult } from './accepts.js';
import { corsHeaders, type CorsOrigins } from './cors.js';
import { BodyTooLargeError, ClientAbortError, bodyStillArriving, closeAfterResponse, readBody } from './read-body.js';

/** What the request log and the metrics learn about one GraphQL request once it is answered. */
export interface FinishedRequest<TContext> {
  readonly requestId: string;
  readonly method: string;
  /** Without the query string, which may carry a GET request's variables. */
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
  /** The request's context, when it got as far as creating one. */
  readonly context: TContext | undefined;
  /** The code of a refusal the handler sent itself, before GraphQL (401, 413, malformed JSON...). */
  readonly refusal: string | undefined;
}

export interface HandlerOptions<TContext extends object> {
  readonly apollo: ApolloServer<TContext>;
  readonly context: (req: IncomingMessage, requestId: string) => Promise<TContext>;
  /** @default 1048576 (1 MB) */
  readonly maxBodyBytes?: number;
  /** Extra routes served before GraphQL (health, metrics); return true when handled. */
  readonly routes?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> | boolean;
  /**
   * When given, a GraphQL request for which it answers false is refused with 401
   * UNAUTHENTICATED before its body is read. @default undefined (open)
   */
  readonly authenticate?: (req: IncomingMessage) => boolean;
  /** Called once per GraphQL request, after its response was handed to the socket. */
  readonly onFinished?: (finished: FinishedRequest<TContext>) => void;
  /** Browser origins allowed to call (see cors.ts). @default '*' */
  readonly corsOrigins?: CorsOrigins;
  /** Headers added to every GraphQL response that Apollo did not set itself. @default [] */
  readonly defaultHeaders?: readonly (readonly [string, string])[];
  readonly onError?: (err: unknown) => void;
  /** A client hung up before its request had arrived in full: its business, not a server error. */
  readonly onClientAbort?: (err: ClientAbortError) => void;
  /**
   * Answers some POST bodies without Apollo's pipeline: given the parsed body, an
   * answer function, or undefined to leave it to Apollo; the function in turn gives
   * the complete response body, or undefined to hand the request on after all.
   * @default undefined (every request goes through Apollo)
   */
  readonly shortcut?: (body: unknown) => ((context: TContext) => Promise<string | undefined>) | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const GRAPHQL_PATHS = new Set(['/', '/graphql']);
const JSON_TYPE = /^application\/(graphql-response\+)?json\b/i;
// A caller's request id is echoed and logged: keep it short and printable.
const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** The caller's `x-request-id` when it is sane, else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Serves GraphQL over node:http through Apollo's transport-neutral entry point.
 * This runs once per request, so it allocates little: headers are copied in one
 * pass and the response head is written in one call.
 */
export function createHttpHandler<TContext extends object>(options: HandlerOptions<TContext>): Handler {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const onError = options.onError ?? (() => {});
  const onClientAbort = options.onClientAbort ?? (() => {});
  const { authenticate, onFinished, shortcut } = options;
  const defaultHeaders = options.defaultHeaders ?? [];
  const setCors = corsHeaders(options.corsOrigins ?? '*');

  return (req, res) => {
    const began = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let requestId: string | undefined;
    let context: TContext | undefined;
    let refusal: string | undefined;
    const refuse = (status: number, code: string, message: string): void => {
      refusal = code;
      if (bodyStillArriving(req)) closeAfterResponse(req, res);
      sendError(res, status, code, message);
    };

    void (async () => {
      const search = q === -1 ? '' : url.slice(q);
      if (options.routes && (await options.routes(req, res, path))) return;
      requestId = requestIdOf(req);
      res.setHeader('x-request-id', requestId);
      if (!GRAPHQL_PATHS.has(path)) return refuse(404, 'NOT_FOUND', `Nothing is served at ${path}; try /graphql`);
      setCors(req, res);
      // Everything the headers alone decide is decided before a byte of the body is read.
      if (req.method === 'OPTIONS') {
        if (bodyStillArriving(req)) closeAfterResponse(req, res);
        res.statusCode = 204;
        res.end();
        return;
      }
      if (authenticate && !authenticate(req)) {
        return refuse(401, 'UNAUTHENTICATED', 'This subgraph answers only its router: the x-router-secret header is missing or wrong');
      }
      if (req.method !== 'GET' && req.method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        return refuse(405, 'BAD_REQUEST', 'GraphQL is served over GET (queries only) and POST');
      }

      let body: unknown;
      let text = '';
      if (req.method === 'POST') {
        if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
          return refuse(415, 'BAD_REQUEST', 'Send POST bodies as application/json (content-type: application/json)');
        }
        if (!acceptsGraphqlResult(req.headers.accept)) {
          return refuse(406, 'BAD_REQUEST', 'The accept header allows neither application/json nor application/graphql-response+json');
        }
        try {
          text = await readBody(req, maxBodyBytes);
        } catch (err) {
          if (err instanceof BodyTooLargeError) return refuse(413, 'BAD_REQUEST', err.message);
          throw err;
        }
        try {
          body = text.length === 0 ? undefined : JSON.parse(text);
        } catch {
          return refuse(400, 'BAD_REQUEST', 'The request body is not valid JSON');
        }
        if (Array.isArray(body)) {
          return refuse(400, 'BAD_REQUEST', 'Batched requests (a JSON array body) are not accepted; send one operation per request');
        }
      }

      const id = requestId;
      if (
        shortcut !== undefined &&
        body !== undefined &&
        req.headers['apollo-federation-include-trace'] === undefined &&
        !mayHoldSurrogates(text)
      ) {
        const contentType = shortcutContentType(req.headers.accept);
        const answer = contentType === undefined ? undefined : shortcut(body);
        if (answer !== undefined) {
          context = await options.context(req, id);
          const text = await answer(context);
          if (text !== undefined) {
            const head: string[] = ['content-type', contentType as string];
            for (const [name, value] of defaultHeaders) if (name !== 'content-type') head.push(name, value);
            sendComplete(res, 200, head, text);
            return;
          }
        }
      }

      const headers = new HeaderMap();
      const raw = req.headers;
      for (const name in raw) {
        const value = raw[name];
        if (value !== undefined) headers.set(name, typeof value === 'string' ? value : value.join(', '));
      }
      const httpGraphQLRequest: HTTPGraphQLRequest = {
        method: (req.method ?? 'GET').toUpperCase(),
        headers,
        search,
        body,
      };
      const response = await options.apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest,
        context: async () => (context ??= await options.context(req, id)),
      });
      const head: string[] = [];
      for (const [name, value] of response.headers) head.push(name, value);
      for (const [name, value] of defaultHeaders) if (!response.headers.has(name)) head.push(name, value);
      if (response.body.kind === 'complete') {
        sendComplete(res, response.status ?? 200, head, response.body.string);
        return;
      }
      res.writeHead(response.status ?? 200, head);
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    })()
      .catch((err: unknown) => {
        if (err instanceof ClientAbortError) {
          // Nobody is left to answer.
          onClientAbort(err);
          res.destroy();
          return;
        }
        onError(err);
        if (!res.headersSent) refuse(500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
        else res.destroy();
      })
      .then(() => {
        if (requestId === undefined || onFinished === undefined) return;
        try {
          onFinished({ requestId, method: req.method ?? '', path, status: res.statusCode, durationMs: performance.now() - began, context, refusal });
        } catch (err) {
          onError(err);
        }
      });
  };
}

/**
 * Whether a JSON text may hold a UTF-16 surrogate: JSON.parse makes one only from
 * a `\uD800`-`\uDFFF` escape (invalid UTF-8 bytes were already decoded as U+FFFD).
 * Such bodies go through Apollo's pipeline, whose plugin refuses text that is not
 * well-formed; the shortcut, which runs no plugin, never sees them.
 */
function mayHoldSurrogates(text: string): boolean {
  return text.includes('\\u') && /\\u[dD][89a-fA-F]/.test(text);
}

/**
 * A whole response in one go. With its length known, head and body leave in one
 * write, without chunked framing (writeHead alone would commit to chunked).
 */
function sendComplete(res: ServerResponse, status: number, head: string[], body: string): void {
  // Encoded once: measuring the string and then writing it would encode it twice.
  const bytes = Buffer.from(body, 'utf8');
  head.push('content-length', String(bytes.length));
  res.writeHead(status, head);
  res.end(bytes);
}

/**
 * The content type Apollo would choose for a single result, for the `accept`
 * values whose choice is plain; undefined for anything that needs Apollo's own
 * negotiation (which then answers the request).
 */
function shortcutContentType(accept: string | undefined): string | undefined {
  if (accept === undefined || accept === '' || accept === '*/*' || accept === 'application/json') return 'application/json; charset=utf-8';
  if (accept === 'application/graphql-response+json') return 'application/graphql-response+json; charset=utf-8';
  return undefined;
}

/** A GraphQL-shaped error for failures that happen before GraphQL runs. */
export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}
