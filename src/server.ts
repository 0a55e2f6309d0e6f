import type { IncomingMessage } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControl, type ApolloServerPluginCacheControlOptions } from '@apollo/server/plugin/cacheControl';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginInlineTrace } from '@apollo/server/plugin/inlineTrace';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type DocumentNode } from 'graphql';
import type { Logger } from 'pino';
import type { RequestContext } from './context.js';
import { maskError } from './errors.js';
import { fastPathPlugin } from './fast-path.js';
import { createHttpHandler } from './http/handler.js';
import { resolvers } from './resolvers/index.js';
import { readSchemaSdl } from './schema-sdl.js';

export interface ServerDeps {
  readonly logger: Logger;
  readonly createContext: () => RequestContext;
  readonly plugins?: readonly ApolloServerPlugin<RequestContext>[];
  /** Health and metrics routes, served before GraphQL. */
  readonly routes?: Parameters<typeof createHttpHandler<RequestContext>>[0]['routes'];
  /** @default 1048576 */
  readonly maxBodyBytes?: number;
  readonly introspection?: boolean;
  /**
   * Apollo's cache-control plugin, for servers that compute HTTP cache hints (the
   * benchmark's response-cache peer). Off by default: this schema declares no hints,
   * and the plugin wraps every field resolver to compute them (see fastPathPlugins).
   * @default undefined (off; responses say `cache-control: no-store`)
   */
  readonly cacheControl?: ApolloServerPluginCacheControlOptions;
  /**
   * Answer simple entity reads without graphql-js execution (src/fast-path.ts).
   * Never with `cacheControl`, whose hints only execution computes.
   * @default true
   */
  readonly fastPath?: boolean;
}

export interface FreshgraphServer {
  readonly apollo: ApolloServer<RequestContext>;
  readonly handler: ReturnType<typeof createHttpHandler<RequestContext>>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

type SubgraphModule = Exclude<Extract<Parameters<typeof buildSubgraphSchema>[0], unknown[]>[number], DocumentNode>;

/** The subgraph schema from schema/ with our resolvers. */
export function buildSchema() {
  return buildSubgraphSchema([
    {
      typeDefs: parse(readSchemaSdl()),
      // The generated Resolvers type and the subgraph's resolver map differ only in how they type __resolveReference.
      resolvers: resolvers as SubgraphModule['resolvers'],
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
 * Plus the read fast path (src/fast-path.ts), which skips execution for simple entity reads.
 */
function fastPathPlugins(
  cacheControl: ApolloServerPluginCacheControlOptions | undefined,
  fastPath: boolean,
): ApolloServerPlugin<RequestContext>[] {
  const tracing = ApolloServerPluginInlineTrace() as ApolloServerPlugin<RequestContext>;
  const tracingOnRequest: ApolloServerPlugin<RequestContext> = {
    serverWillStart: async (service) => tracing.serverWillStart?.(service),
    requestDidStart: async (requestContext) =>
      requestContext.request.http?.headers.get('apollo-federation-include-trace') === 'ftv1'
        ? tracing.requestDidStart?.(requestContext)
        : undefined,
  };
  return [
    cacheControl === undefined ? ApolloServerPluginCacheControlDisabled() : ApolloServerPluginCacheControl(cacheControl),
    ApolloServerPluginInlineTraceDisabled(),
    tracingOnRequest,
    ...(fastPath && cacheControl === undefined ? [fastPathPlugin()] : []),
  ];
}

/** Apollo Server plus a node:http handler; listening is the caller's business. */
export function createServer(deps: ServerDeps): FreshgraphServer {
  const { logger } = deps;
  const apollo = new ApolloServer<RequestContext>({
    schema: buildSchema(),
    logger: logger.child({ component: 'apollo' }),
    plugins: [...fastPathPlugins(deps.cacheControl, deps.fastPath ?? true), ...(deps.plugins ?? [])],
    introspection: deps.introspection ?? true,
    includeStacktraceInErrorResponses: false,
    // main.ts owns shutdown: it drains HTTP first, then stops Apollo, then flushes cache work.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) =>
      maskError(formatted, error, (err) => logger.error({ err }, 'unexpected error while serving a request')),
  });
  const handler = createHttpHandler<RequestContext>({
    apollo,
    context: async (_req: IncomingMessage) => deps.createContext(),
    routes: deps.routes,
    maxBodyBytes: deps.maxBodyBytes,
    // What Apollo's cache-control plugin sends for a response without hints.
    defaultHeaders: deps.cacheControl === undefined ? [['cache-control', 'no-store']] : [],
    onError: (err) => logger.error({ err }, 'request failed outside GraphQL'),
  });
  return {
    apollo,
    handler,
    start: () => apollo.start(),
    stop: () => apollo.stop(),
  };
}
