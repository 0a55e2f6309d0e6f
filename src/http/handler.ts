import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { HeaderMap, type ApolloServer, type HTTPGraphQLRequest } from '@apollo/server';
import { ErrorCode } from '../errors.js';
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
  /** The code of a refusal the handler sent itself (401, 413, malformed JSON, RESPONSE_TOO_LARGE...). */
  readonly refusal: string | undefined;
}

export interface HandlerOptions<TContext extends object> {
  readonly apollo: ApolloServer<TContext>;
  readonly context: (req: IncomingMessage, requestId: string) => Promise<TContext>;
  /** @default 1048576 (1 MB) */
  readonly maxBodyBytes?: number;
  /**
   * A GraphQL response body longer than this is not sent: RESPONSE_TOO_LARGE is
   * instead, with HTTP 200 (see docs/security.md). @default 4194304 (4 MiB)
   */
  readonly maxResponseBytes?: number;
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
   * Answers some requests without Apollo's pipeline (src/fast-path/fence.ts decides
   * which): given the request as read, the content type to answer with and a
   * function that gives the complete response body (or undefined, to hand the
   * request on after all); undefined leaves the request to Apollo.
   * @default undefined (every request goes through Apollo)
   */
  readonly shortcut?: (request: OfferedRequest) => Shortcut<TContext> | undefined;
}

/** A GraphQL request as the handler has read it, before Apollo (or the shortcut) sees it. */
export interface OfferedRequest {
  readonly method: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The body as received (empty for GET), and as JSON.parse made it (undefined for GET or an empty body). */
  readonly text: string;
  readonly body: unknown;
}

export interface Shortcut<TContext> {
  readonly contentType: string;
  readonly answer: (context: TContext) => Promise<string | undefined>;
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

/** One request on its way through the handler, with what the request log learns of it. */
interface Exchange<TContext> {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly began: number;
  requestId: string | undefined;
  context: TContext | undefined;
  refusal: string | undefined;
}

/**
 * Serves GraphQL over node:http through Apollo's transport-neutral entry point.
 * This runs once per request, so it allocates little: headers are copied in one
 * pass and the response head is written in one call. A request goes through
 * steps, each of which may answer it: `route` (health, metrics, unknown paths),
 * `refuseByHeaders` (decided before a byte of the body is read), `readRequest`,
 * `answerByShortcut`, `answerByApollo`. Every GraphQL response leaves through
 * `send`, under the response-size cap.
 */
export function createHttpHandler<TContext extends object>(options: HandlerOptions<TContext>): Handler {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const maxResponseBytes = options.maxResponseBytes ?? 4 * 1024 * 1024;
  const onError = options.onError ?? (() => {});
  const onClientAbort = options.onClientAbort ?? (() => {});
  const { authenticate, onFinished, shortcut } = options;
  const defaultHeaders = options.defaultHeaders ?? [];
  const setCors = corsHeaders(options.corsOrigins ?? '*');

  const refuse = (x: Exchange<TContext>, status: number, code: string, message: string): true => {
    x.refusal = code;
    if (bodyStillArriving(x.req)) closeAfterResponse(x.req, x.res);
    sendError(x.res, status, code, message);
    return true;
  };

  /** Serves what is not GraphQL; false leaves the request to GraphQL. */
  const route = async (x: Exchange<TContext>, path: string): Promise<boolean> => {
    if (options.routes && (await options.routes(x.req, x.res, path))) return true;
    x.requestId = requestIdOf(x.req);
    x.res.setHeader('x-request-id', x.requestId);
    if (!GRAPHQL_PATHS.has(path)) return refuse(x, 404, 'NOT_FOUND', `Nothing is served at ${path}; try /graphql`);
    setCors(x.req, x.res);
    return false;
  };

  /** Everything the headers alone decide; true when answered. */
  const refuseByHeaders = (x: Exchange<TContext>): boolean => {
    const { req, res } = x;
    if (req.method === 'OPTIONS') {
      if (bodyStillArriving(req)) closeAfterResponse(req, res);
      res.statusCode = 204;
      res.end();
      return true;
    }
    if (authenticate && !authenticate(req)) {
      return refuse(x, 401, 'UNAUTHENTICATED', 'This subgraph answers only its router: the x-router-secret header is missing or wrong');
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.setHeader('allow', 'GET, POST');
      return refuse(x, 405, 'BAD_REQUEST', 'GraphQL is served over GET (queries only) and POST');
    }
    if (req.method === 'GET') return false;
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      return refuse(x, 415, 'BAD_REQUEST', 'Send POST bodies as application/json (content-type: application/json)');
    }
    if (!acceptsGraphqlResult(req.headers.accept)) {
      return refuse(x, 406, 'BAD_REQUEST', 'The accept header allows neither application/json nor application/graphql-response+json');
    }
    return false;
  };

  /** The request with its body read and parsed; undefined when refused. */
  const readRequest = async (x: Exchange<TContext>): Promise<OfferedRequest | undefined> => {
    const { req } = x;
    if (req.method !== 'POST') return { method: req.method, headers: req.headers, text: '', body: undefined };
    let text: string;
    try {
      text = await readBody(req, maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return void refuse(x, 413, 'BAD_REQUEST', err.message);
      throw err;
    }
    let body: unknown;
    try {
      body = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      return void refuse(x, 400, 'BAD_REQUEST', 'The request body is not valid JSON');
    }
    if (Array.isArray(body)) {
      return void refuse(x, 400, 'BAD_REQUEST', 'Batched requests (a JSON array body) are not accepted; send one operation per request');
    }
    return { method: req.method, headers: req.headers, text, body };
  };

  const contextOf = async (x: Exchange<TContext>): Promise<TContext> =>
    // requestId is set by `route`, before any step that needs a context.
    (x.context ??= await options.context(x.req, x.requestId ?? requestIdOf(x.req)));

  /** True when the shortcut answered. */
  const answerByShortcut = async (x: Exchange<TContext>, request: OfferedRequest): Promise<boolean> => {
    const found = shortcut?.(request);
    if (found === undefined) return false;
    const text = await found.answer(await contextOf(x));
    if (text === undefined) return false;
    const head: string[] = ['content-type', found.contentType];
    for (const [name, value] of defaultHeaders) if (name !== 'content-type') head.push(name, value);
    send(x, 200, head, text);
    return true;
  };

  const answerByApollo = async (x: Exchange<TContext>, request: OfferedRequest, search: string): Promise<void> => {
    const headers = new HeaderMap();
    const raw = x.req.headers;
    for (const name in raw) {
      const value = raw[name];
      if (value !== undefined) headers.set(name, typeof value === 'string' ? value : value.join(', '));
    }
    const httpGraphQLRequest: HTTPGraphQLRequest = { method: (x.req.method ?? 'GET').toUpperCase(), headers, search, body: request.body };
    const response = await options.apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest, context: () => contextOf(x) });
    const head: string[] = [];
    for (const [name, value] of response.headers) head.push(name, value);
    for (const [name, value] of defaultHeaders) if (!response.headers.has(name)) head.push(name, value);
    if (response.body.kind === 'complete') return send(x, response.status ?? 200, head, response.body.string);
    // Incremental delivery: the head has left before the size is known, so past the cap the connection is cut.
    x.res.writeHead(response.status ?? 200, head);
    let sent = 0;
    for await (const chunk of response.body.asyncIterator) {
      sent += Buffer.byteLength(chunk);
      if (sent > maxResponseBytes) {
        x.refusal = ErrorCode.RESPONSE_TOO_LARGE;
        x.res.destroy();
        return;
      }
      x.res.write(chunk);
    }
    x.res.end();
  };

  /**
   * A whole response in one go. With its length known, head and body leave in one
   * write, without chunked framing (writeHead alone would commit to chunked). Past
   * `maxResponseBytes`, RESPONSE_TOO_LARGE goes instead, with the same head.
   */
  const send = (x: Exchange<TContext>, status: number, head: string[], body: string): void => {
    // Encoded once: measuring the string and then writing it would encode it twice.
    let bytes = Buffer.from(body, 'utf8');
    if (bytes.length > maxResponseBytes) {
      x.refusal = ErrorCode.RESPONSE_TOO_LARGE;
      bytes = Buffer.from(responseTooLarge(bytes.length, maxResponseBytes), 'utf8');
      status = 200;
    }
    head.push('content-length', String(bytes.length));
    x.res.writeHead(status, head);
    x.res.end(bytes);
  };

  const serve = async (x: Exchange<TContext>): Promise<void> => {
    const url = x.req.url ?? '/';
    const q = url.indexOf('?');
    if (await route(x, q === -1 ? url : url.slice(0, q))) return;
    if (refuseByHeaders(x)) return;
    const request = await readRequest(x);
    if (request === undefined || (await answerByShortcut(x, request))) return;
    await answerByApollo(x, request, q === -1 ? '' : url.slice(q));
  };

  const fail = (x: Exchange<TContext>, err: unknown): void => {
    if (err instanceof ClientAbortError) {
      // Nobody is left to answer.
      onClientAbort(err);
      x.res.destroy();
      return;
    }
    onError(err);
    if (!x.res.headersSent) refuse(x, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
    else x.res.destroy();
  };

  const finish = (x: Exchange<TContext>): void => {
    if (x.requestId === undefined || onFinished === undefined) return;
    try {
      const url = x.req.url ?? '/';
      const q = url.indexOf('?');
      onFinished({
        requestId: x.requestId,
        method: x.req.method ?? '',
        path: q === -1 ? url : url.slice(0, q),
        status: x.res.statusCode,
        durationMs: performance.now() - x.began,
        context: x.context,
        refusal: x.refusal,
      });
    } catch (err) {
      onError(err);
    }
  };

  return (req, res) => {
    const x: Exchange<TContext> = { req, res, began: performance.now(), requestId: undefined, context: undefined, refusal: undefined };
    void serve(x)
      .catch((err: unknown) => fail(x, err))
      .then(() => finish(x));
  };
}

/** What is sent instead of a response over the cap: `data` null, as when a root field fails. */
function responseTooLarge(bytes: number, max: number): string {
  const message = `The response is ${bytes} bytes; at most ${max} are sent. Ask for fewer rows or fields at once`;
  return JSON.stringify({ data: null, errors: [{ message, extensions: { code: ErrorCode.RESPONSE_TOO_LARGE, max } }] });
}

/** A GraphQL-shaped error for failures that happen before GraphQL runs. */
export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}
