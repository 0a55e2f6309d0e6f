import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginInlineTrace } from '@apollo/server/plugin/inlineTrace';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type DocumentNode } from 'graphql';
import type { Logger } from 'pino';
import { newRequestMeta, type RequestContext, type RequestMeta } from './context.js';
import { maskError } from './errors.js';
import { ENTITIES, LISTS } from './entities/index.js';
import { TRACE_HEADER, asksForTrace, fence, skippable } from './fast-path/fence.js';
import { createFastPath, type FastPath } from './fast-path/index.js';
import type { CorsOrigins } from './http/cors.js';
import { createHttpHandler } from './http/handler.js';
import { entitiesLimitPlugin } from './plugins/entities-limit.js';
import { landingPagePlugin } from './plugins/landing-page.js';
import type { Metrics } from './ops/metrics.js';
import { createRequestObserver } from './ops/request-log.js';
import { secretMatcher, writeAccessPlugin } from './plugins/access-control.js';
import { Admission } from './plugins/admission.js';
import { connectionArgsPlugin } from './plugins/connection-args.js';
import { costLimitPlugin } from './plugins/cost-limit.js';
import { knownOperationTypesRule } from './plugins/operation-types.js';
import { DEBUG_HEADER, debugExtensionsPlugin } from './plugins/debug-extensions.js';
import { executionDeadline } from './plugins/execution-deadline.js';
import { DEFAULT_QUERY_LIMITS, recodeTokenLimit, shapeLimitsRule, type QueryLimits } from './plugins/query-limits.js';
import { requestMetaPlugin } from './plugins/request-meta.js';
import { recodeIllFormedLiteral, wellFormedTextPlugin } from './plugins/well-formed-text.js';
import { allResolvers } from './resolvers/index.js';
import { LIST_BOUNDS } from './list-bounds.js';
import { checkEntitiesAgainstSchema } from './schema-check.js';
import { readSchemaSdl } from './schema-sdl.js';
import { MAX_LIST_LENGTH } from './validation.js';

export interface ServerDeps {
  readonly logger: Logger;
  readonly createContext: (meta?: RequestMeta) => RequestContext;
  /** Health and metrics routes, served before GraphQL and outside the router secret. */
  readonly routes?: Parameters<typeof createHttpHandler<RequestContext>>[0]['routes'];
  /** @default 1048576 */
  readonly maxBodyBytes?: number;
  /**
   * A response body longer than this is replaced by RESPONSE_TOO_LARGE (HTTP 200),
   * whichever path built it (see docs/security.md). @default 4194304 (4 MiB)
   */
  readonly maxResponseBytes?: number;
  /**
   * Resolvers that would start this long after their request's execution started
   * fail with EXECUTION_TIMEOUT instead (Infinity: never). @default 10000
   */
  readonly executionTimeoutMs?: number;
  /**
   * The most cost that requests above a twentieth of `limits.maxCost` may have running
   * at once; more wait in line, up to `executionTimeoutMs` (plugins/admission.ts).
   * @default 2 x limits.maxCost
   */
  readonly maxCostInFlight?: number;
  /** Schema introspection; when off, error messages do not suggest field names either. @default true */
  readonly introspection?: boolean;
  /** Serve Apollo Sandbox to browsers at GET / and /graphql; otherwise no landing page at all. @default false */
  readonly sandbox?: boolean;
  /** Depth, aliases, directives, tokens, cost. @default DEFAULT_QUERY_LIMITS */
  readonly limits?: QueryLimits;
  /** Every GraphQL request must carry it in `x-router-secret`. @default undefined (open) */
  readonly routerSecret?: string;
  /** Mutations need one of these as a bearer token. @default [] (mutations open) */
  readonly writeTokens?: readonly string[];
  /** Serve `extensions.cache` to requests with `x-freshgraph-debug: 1`. @default false */
  readonly debugExtensions?: boolean;
  /** Browser origins allowed to call (CORS): `*`, or a list; [] sends no CORS headers. @default '*' */
  readonly corsOrigins?: CorsOrigins;
  /** Request count and latency go here when given. @default undefined */
  readonly metrics?: Metrics;
  /**
   * Answer simple entity reads without graphql-js execution (src/fast-path/).
   * @default true
   */
  readonly fastPath?: boolean;
  /**
   * Apollo reports usage to GraphOS Studio (APOLLO_KEY): every request must then go
   * through its pipeline, so the fast path never answers before it.
   * @default false
   */
  readonly usageReporting?: boolean;
}

export interface FreshgraphServer {
  readonly apollo: ApolloServer<RequestContext>;
  readonly handler: ReturnType<typeof createHttpHandler<RequestContext>>;
  /** Requests answered before Apollo's pipeline (see FastPath.shortcut); 0 when the fast path is off. */
  readonly shortcutAnswers: () => number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

type SubgraphModule = Exclude<Extract<Parameters<typeof buildSubgraphSchema>[0], unknown[]>[number], DocumentNode>;

/** The subgraph schema from schema/ with our resolvers. */
export function buildSchema() {
  const sdl = readSchemaSdl();
  const typeDefs = parse(sdl);
  checkEntitiesAgainstSchema(ENTITIES, typeDefs, LISTS);
  const resolvers = allResolvers();
  return buildSubgraphSchema([
    {
      typeDefs,
      // The derived resolver map and the subgraph's differ only in how they type __resolveReference.
      resolvers: {
        ...resolvers,
        // `_service { sdl }` answers the files under schema/ as written, not federation's expanded reprint of them.
        Query: { ...resolvers['Query'], _service: () => ({ sdl }) },
      } as SubgraphModule['resolvers'],
    },
  ]);
}

/**
 * Apollo's implicit plugins, replaced by equivalents that cost nothing on a request
 * that does not use them (found by profiling `npm run bench`):
 * - cache control: with any `willResolveField` hook installed, Apollo wraps every field
 *   resolver of the schema and calls the hook for each field of each response (700
 *   calls for 100 products). We send no cache hints, so the plugin is off and the
 *   handler sends the `cache-control: no-store` it would have computed.
 * - inline tracing (ftv1), on by default in a subgraph: Apollo's plugin builds a trace
 *   tree on every request before it looks at the header; here the header is looked at
 *   first, and a router that asks for traces still gets them, from Apollo's own plugin.
 * Plus the read fast path (src/fast-path/), which skips execution for simple entity
 * reads, and once it has answered an operation, Apollo's whole pipeline for it.
 */
function fastPathPlugins(fastPath: FastPath | undefined): ApolloServerPlugin<RequestContext>[] {
  const tracing = ApolloServerPluginInlineTrace() as ApolloServerPlugin<RequestContext>;
  const tracingOnRequest: ApolloServerPlugin<RequestContext> = {
    serverWillStart: async (service) => tracing.serverWillStart?.(service),
    // Apollo's plugin itself then traces only for `ftv1`.
    requestDidStart: async (requestContext) =>
      asksForTrace(requestContext.request.http?.headers.get(TRACE_HEADER)) ? tracing.requestDidStart?.(requestContext) : undefined,
  };
  return [
    skippable(ApolloServerPluginCacheControlDisabled(), 'disabled'),
    skippable(ApolloServerPluginInlineTraceDisabled(), 'disabled'),
    skippable(tracingOnRequest, 'tracing'),
    ...(fastPath ? [fastPath.plugin] : []),
  ];
}

/**
 * Apollo Server plus a node:http handler; listening is the caller's business.
 * Everything that can refuse a request does so before any resolver runs: the
 * router secret and body checks in the handler, the shape limits in validation,
 * cost and write access in `didResolveOperation`.
 */
export function createServer(deps: ServerDeps): FreshgraphServer {
  const { logger } = deps;
  const limits = deps.limits ?? DEFAULT_QUERY_LIMITS;
  const introspection = deps.introspection ?? true;
  const writeTokens = deps.writeTokens ?? [];
  const debugExtensions = deps.debugExtensions ?? false;
  const executionTimeoutMs = deps.executionTimeoutMs ?? 10_000;
  const deadline = executionDeadline<RequestContext>(executionTimeoutMs);
  const admission = new Admission({
    budget: deps.maxCostInFlight ?? 2 * limits.maxCost,
    lightCost: Math.max(1, Math.floor(limits.maxCost / 20)),
    maxWaitMs: executionTimeoutMs,
  });
  // Each plugin says why the shortcut may skip it (src/fast-path/fence.ts).
  const plugins: ApolloServerPlugin<RequestContext>[] = [
    // First, so that its refusal wins over every other didResolveOperation check.
    skippable(wellFormedTextPlugin(), 'wellFormedText'),
    skippable(requestMetaPlugin(), 'requestMeta'),
    skippable(costLimitPlugin({ maxCost: limits.maxCost, ...LIST_BOUNDS, admission }), 'costLimit'),
    skippable(entitiesLimitPlugin({ maxRepresentations: MAX_LIST_LENGTH }), 'entitiesLimit'),
    skippable(connectionArgsPlugin(LISTS), 'connectionArgs'),
    skippable(landingPagePlugin(deps.sandbox ?? false), 'landingPage'),
    skippable(deadline.plugin, 'executionDeadline'),
  ];
  if (writeTokens.length > 0) plugins.push(skippable(writeAccessPlugin(writeTokens), 'writeAccess'));
  if (debugExtensions) plugins.push(skippable(debugExtensionsPlugin(), 'debugExtensions'));
  const fastPath = (deps.fastPath ?? true) ? createFastPath(ENTITIES) : undefined;
  plugins.push(...fastPathPlugins(fastPath));

  const apollo = new ApolloServer<RequestContext>({
    schema: deadline.guard(buildSchema()),
    logger: logger.child({ component: 'apollo' }),
    plugins,
    introspection,
    // "Did you mean ...?" would name fields that introspection is meant to hide.
    hideSchemaDetailsFromClientErrors: !introspection,
    validationRules: [shapeLimitsRule(limits), knownOperationTypesRule],
    parseOptions: { maxTokens: limits.maxTokens },
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    // main.ts owns shutdown: it drains HTTP first, then stops Apollo, then flushes cache work.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) =>
      maskError(recodeIllFormedLiteral(recodeTokenLimit(formatted)), error, (err) => logger.error({ err }, 'unexpected error while serving a request')),
  });
  const shortcut =
    fastPath &&
    fence({
      apollo,
      plugins,
      shortcut: fastPath.shortcut,
      admission,
      usageReporting: deps.usageReporting ?? false,
      onClosed: () => logger.info('fast path: answering learned operations before Apollo is off: a plugin that is not on its allow-list was added'),
    });
  const routerSecretMatches = deps.routerSecret === undefined ? undefined : secretMatcher([deps.routerSecret]);
  const handler = createHttpHandler<RequestContext>({
    apollo,
    context: async (req, requestId) =>
      deps.createContext(newRequestMeta(requestId, debugExtensions && req.headers[DEBUG_HEADER] === '1')),
    routes: deps.routes,
    maxBodyBytes: deps.maxBodyBytes,
    maxResponseBytes: deps.maxResponseBytes,
    corsOrigins: deps.corsOrigins,
    authenticate: routerSecretMatches && ((req) => routerSecretMatches(singleHeader(req.headers['x-router-secret']))),
    onFinished: createRequestObserver(logger, deps.metrics),
    // What Apollo's cache-control plugin sends for a response without hints.
    defaultHeaders: [['cache-control', 'no-store']],
    onError: (err) => logger.error({ err }, 'request failed outside GraphQL'),
    onClientAbort: (err) => logger.debug({ reason: err.message }, 'client closed the connection before its request arrived in full'),
    shortcut,
  });
  return {
    apollo,
    handler,
    shortcutAnswers: () => fastPath?.shortcutAnswers ?? 0,
    start: () => apollo.start(),
    stop: () => apollo.stop(),
  };
}

const singleHeader = (value: string | string[] | undefined): string | undefined => (typeof value === 'string' ? value : undefined);
