/**
 * The peer: the same schema, resolvers and repositories as freshgraph with our
 * cache turned off, behind Apollo's full-response cache
 * (`@apollo/server-plugin-response-cache`) stored in Redis, every response
 * cacheable for 300 s (cache-control default maxAge). It is what many teams
 * deploy for speed; its weakness is freshness: a mutation does not touch the
 * cached responses that contain the old row.
 *
 * Environment: DATABASE_URL, REDIS_URL, CACHE_PREFIX, PORT, HOST, LOG_LEVEL.
 */
import { createServer as createHttpServer } from 'node:http';
import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import type { RequestContext } from '../../src/context.js';
import { createDependencies } from '../../src/dependencies.js';
import { createLogger } from '../../src/logger.js';
import { createServer } from '../../src/server.js';

/** Apollo's response cache TTL: every cached response lives this long. */
export const RESPONSE_TTL_SECONDS = 300;

/** A KeyValueCache on ioredis, configured like freshgraph's client (auto-pipelining, bounded timeouts). */
export class RedisKeyValueCache implements KeyValueCache<string> {
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.client.get(this.prefix + key)) ?? undefined;
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttl = options?.ttl;
    if (typeof ttl === 'number' && ttl > 0) await this.client.set(this.prefix + key, value, 'PX', Math.round(ttl * 1000));
    else await this.client.set(this.prefix + key, value, 'PX', RESPONSE_TTL_SECONDS * 1000);
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

const server = createServer({
  logger,
  createContext: deps.createContext,
  // Apollo's cache-control plugin computes the policy the response cache obeys: every response 300 s, public.
  cacheControl: { defaultMaxAge: RESPONSE_TTL_SECONDS },
  plugins: [
    responseCachePlugin<RequestContext>({
      cache: new RedisKeyValueCache(redis, `${config.cachePrefix}:`),
      // Every response is public: no per-user data in this schema.
      sessionId: async () => null,
    }),
  ],
  routes: (_req, res, path) => {
    if (path !== '/healthz') return false;
    res.setHeader('content-type', 'application/json');
    res.end('{"status":"ok"}');
    return true;
  },
});
await server.start();
const http = createHttpServer(server.handler);
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
      await server.stop();
      await deps.close();
      redis.disconnect();
      process.exit(0);
    })();
  });
}
