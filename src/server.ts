import type { IncomingMessage } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type DocumentNode } from 'graphql';
import type { Logger } from 'pino';
import type { RequestContext } from './context.js';
import { maskError } from './errors.js';
import { createHttpHandler } from './http/handler.js';
import { entitiesLimitPlugin } from './plugins/entities-limit.js';
import { landingPagePlugin } from './plugins/landing-page.js';
import { resolvers } from './resolvers/index.js';
import { readSchemaSdl } from './schema-sdl.js';
import { MAX_LIST_LENGTH } from './services/validation.js';

export interface ServerDeps {
  readonly logger: Logger;
  readonly createContext: () => RequestContext;
  readonly plugins?: readonly ApolloServerPlugin<RequestContext>[];
  /** Health and metrics routes, served before GraphQL. */
  readonly routes?: Parameters<typeof createHttpHandler<RequestContext>>[0]['routes'];
  /** @default 1048576 */
  readonly maxBodyBytes?: number;
  /** @default true */
  readonly introspection?: boolean;
  /** Serve Apollo Sandbox to browsers at GET / and /graphql; otherwise no landing page at all. @default false */
  readonly sandbox?: boolean;
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
  const sdl = readSchemaSdl();
  return buildSubgraphSchema([
    {
      typeDefs: parse(sdl),
      // The generated Resolvers type and the subgraph's resolver map differ only in how they type __resolveReference.
      resolvers: {
        ...resolvers,
        // `_service { sdl }` answers the files under schema/ as written, not federation's expanded reprint of them.
        Query: { ...resolvers.Query, _service: () => ({ sdl }) },
      } as SubgraphModule['resolvers'],
    },
  ]);
}

/** Apollo Server plus a node:http handler; listening is the caller's business. */
export function createServer(deps: ServerDeps): FreshgraphServer {
  const { logger } = deps;
  const apollo = new ApolloServer<RequestContext>({
    schema: buildSchema(),
    logger: logger.child({ component: 'apollo' }),
    plugins: [
      entitiesLimitPlugin({ maxRepresentations: MAX_LIST_LENGTH }),
      landingPagePlugin(deps.sandbox ?? false),
      ...(deps.plugins ?? []),
    ],
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
    onError: (err) => logger.error({ err }, 'request failed outside GraphQL'),
  });
  return {
    apollo,
    handler,
    start: () => apollo.start(),
    stop: () => apollo.stop(),
  };
}
