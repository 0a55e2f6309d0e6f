/**
 * The peer: the same schema, resolvers and repositories as freshgraph with our
 * cache turned off, behind Apollo's full-response cache
 * (`@apollo/server-plugin-response-cache`) stored in Redis, every response
 * cacheable for 300 s (cache-control default maxAge). It is what many teams
 * deploy for speed; its weakness is freshness: a mutation does not touch the
 * cached responses that contain the old row.
 *
 * It builds its own Apollo Server, as such a team would: freshgraph's schema
 * (`buildSchema()`), Apollo's defaults, the cache-control and response-cache
 * plugins, served through the same node:http adapter as freshgraph
 * (src/http/handler.ts), so that what differs is the caching, not the HTTP layer.
 *
 * Environment: DATABASE_URL, REDIS_URL, CACHE_PREFIX, PORT, HOST, LOG_LEVEL.
 */
import { createServer as createHttpServer } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import { newRequestMeta, type RequestContext } from '../../src/context.js';
import { createDependencies } from '../../src/dependencies.js';
import { createHttpHandler } from '../../src/http/handler.js';
import { createLogger } from '../../src/logger.js';
import { buildSchema } from '../../src/server.js';

/** Apollo's response cache TTL: every cached response lives this long. */
export const RESPONSE_TTL_SECONDS = 300;

/**
 * A KeyValueCache on ioredis, configured like freshgraph's client (auto-pipelining, bounded timeouts).
 * A Redis error is a miss and a lost write, as with Apollo's `ErrorsAreMissesCache`: a response cache
 * that times out on a busy machine answers from the resolvers, as freshgraph degrades to Postgres.
 */
export class RedisKeyValueCache implements KeyValueCache<string> {
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.client.get(this.prefix + key)) ?? undefined;
    } catch {
      return undefined;
    }
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttl = options?.ttl;
    const ms = typeof ttl === 'number' && ttl > 0 ? Math.round(ttl * 1000) : RESPONSE_TTL_SECONDS * 1000;
    await this.client.set(this.prefix + key, value, 'PX', ms).catch(() => undefined);
  }

  async delete(key: string): Promise<boolean | void> {
    await this.client.del(this.prefix + key);
  }
}

const env = process.env;
const redisUrl = env['REDIS_URL'];
if (!redisUrl) {
  console.error('The response-cache peer needs REDIS_URL');
  process.exit(2);
}
// Our own cache off: reads go to Postgres unless Apollo's response cache answers.
const config = loadConfig({ ...env, CACHE_MODE: 'off', REDIS_URL: '' });
const logger = createLogger(config.logLevel);
const deps = await createDependencies(config, logger);
const redis = new Redis(redisUrl, {
  commandTimeout: config.redisCommandTimeoutMs,
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  lazyConnect: true,
});
await redis.connect();

const apollo = new ApolloServer<RequestContext>({
  schema: buildSchema(),
  logger: logger.child({ component: 'apollo' }),
  plugins: [
    // Computes the policy the response cache obeys: every response 300 s, public.
    ApolloServerPluginCacheControl({ defaultMaxAge: RESPONSE_TTL_SECONDS }),
    responseCachePlugin<RequestContext>({
      cache: new RedisKeyValueCache(redis, `${config.cachePrefix}:`),
      // Every response is public: no per-user data in this schema.
      sessionId: async () => null,
    }),
  ],
  // Shutdown below stops HTTP first, then Apollo, then the pools.
  stopOnTerminationSignals: false,
});
const handler = createHttpHandler<RequestContext>({
  apollo,
  context: async (_req, requestId) => deps.createContext(newRequestMeta(requestId)),
  routes: (_req, res, path) => {
    if (path !== '/healthz') return false;
    res.setHeader('content-type', 'application/json');
    res.end('{"status":"ok"}');
    return true;
  },
});
await apollo.start();
const http = createHttpServer(handler);
http.keepAliveTimeout = 65_000;
http.listen(config.port, config.host, () => {
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  logger.warn({ url: `http://${config.host}:${port}/graphql` }, 'response-cache peer is serving');
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    http.close();
    http.closeAllConnections();
    void (async () => {
      await apollo.stop();
      await deps.close();
      redis.disconnect();
      process.exit(0);
    })();
  });
}
