import { createServer as createHttpServer, type Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import type { DestinationStream } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDependencies, type Dependencies } from './dependencies.js';
import { ConnectionTracker } from './http/connection-tracker.js';
import { describeCorsOrigins } from './http/cors.js';
import { createOpsRoutes } from './ops/routes.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './ops/metrics.js';
import { checkReadiness, coalescedReadiness, withServing, type ReadinessCheck } from './ops/readiness.js';
import { watchWriteShare } from './ops/write-share.js';
import { createServer, type FreshgraphServer } from './server.js';
import { TrackingStore } from './cache/tracking-store.js';

export interface Running {
  readonly url: string;
  readonly deps: Dependencies;
  readonly server: FreshgraphServer;
  readonly http: Server;
  readonly metrics: Metrics;
  /** Stops accepting, finishes in-flight requests and their cache writes, closes pools. */
  shutdown(): Promise<void>;
}

export interface StartOptions {
  /** Where log lines go: pretty ones only if it is a terminal or LOG_FORMAT=pretty. @default stdout */
  readonly logDestination?: DestinationStream;
}

/** Config -> clients -> server -> listen. Exported so tests can run the real thing in-process. */
export async function start(env: NodeJS.ProcessEnv = process.env, options: StartOptions = {}): Promise<Running> {
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel, { destination: options.logDestination, format: config.logFormat });
  const metrics = new Metrics({ writeShareWindowSeconds: config.writeShareWindowSeconds });
  const deps = await createDependencies(config, logger, {
    onStoreCall: metrics.observeStoreCall,
    onStaleSample: metrics.observeStaleSample,
  });
  metrics.watchCache(deps.cache.counters);
  metrics.watchCacheHealth(deps.cache, deps.repair);
  if (deps.store instanceof TrackingStore) metrics.watchLocalCopy(deps.store);
  metrics.watchDatabase(deps.db.knex);
  const stopWriteShareWatch = watchWriteShare(metrics.writeShare, {
    threshold: config.writeShareWarn,
    logger: logger.child({ component: 'cache' }),
  });
  logger.info(
    {
      database: deps.db.kind === 'pglite' ? `embedded PGlite (${deps.db.location})` : `postgres (${deps.db.location})`,
      cache: describeCache(config, deps.store.kind),
    },
    deps.db.kind === 'pglite' || deps.store.kind === 'memory'
      ? 'running on the embedded defaults: fine for trying it out, not for production'
      : deps.store.kind === 'redis-cluster'
        ? 'running on Postgres and Redis Cluster'
        : 'running on Postgres and Redis',
  );

  logAccessControl(config, logger);
  if (config.debugExtensions) logger.info('DEBUG_EXTENSIONS: requests with x-freshgraph-debug: 1 get extensions.cache');

  let draining = false;
  const readinessChecks: ReadinessCheck[] = [{ name: 'database', run: () => deps.db.knex.raw('select 1') }];
  if (config.cacheMode === 'on') readinessChecks.push({ name: 'cache', run: () => deps.store.ping() });
  const dependenciesReady = coalescedReadiness(() => checkReadiness(readinessChecks, config.readyTimeoutMs), config.readyCacheMs);
  const server = createServer({
    logger,
    createContext: deps.createContext,
    routes: createOpsRoutes({
      // A draining instance reports itself unready at once, so that load balancers stop sending to it.
      readiness: async () => withServing(await dependenciesReady(), !draining),
      metrics,
      logger: logger.child({ component: 'readiness' }),
    }),
    maxBodyBytes: config.maxBodyBytes,
    maxResponseBytes: config.maxResponseBytes,
    executionTimeoutMs: config.executionTimeoutMs,
    maxCostInFlight: config.maxCostInFlight,
    corsOrigins: config.corsOrigins,
    introspection: config.introspection,
    usageReporting: config.usageReporting,
    sandbox: config.sandbox,
    limits: config.queryLimits,
    routerSecret: config.routerSecret,
    writeTokens: config.writeTokens,
    debugExtensions: config.debugExtensions,
    metrics,
  });
  await server.start();
  const http = createHttpServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      // How often Node looks for requests past those timeouts (its default is every 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(config.headersTimeoutMs / 2))),
    },
    (req, res) => {
      // Responses during the drain tell keep-alive clients not to send more on this connection.
      if (draining) res.setHeader('connection', 'close');
      server.handler(req, res);
    },
  );
  const connections = new ConnectionTracker(http);
  // Longer than the idle timeout of the router's (or load balancer's) connection pool, so that
  // it is always the client that closes an idle connection, never us while a request is on its way.
  http.keepAliveTimeout = config.keepAliveTimeoutMs;
  http.maxConnections = config.maxConnections;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => resolve());
  });
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = `http://${urlHostOf(config.host)}:${port}/graphql`;
  logger.info({ url, listen: describeListen(config.host, port), cors: describeCorsOrigins(config.corsOrigins) }, 'freshgraph is serving');

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      draining = true;
      if (config.shutdownDelayMs > 0) {
        logger.info({ delayMs: config.shutdownDelayMs }, 'shutting down: unready, still serving while load balancers notice');
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
      }
      logger.info('shutting down: no new connections, finishing requests in flight');
      // net.Server's close stops accepting but, unlike http.Server's, does not drop accepted connections
      // at once: one may be idle only because its request is still arriving.
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(http, () => resolve()));
      const sweep = setInterval(() => connections.closeIdle(5_000), 250);
      connections.closeIdle(5_000);
      const force = setTimeout(() => {
        logger.warn({ afterMs: config.shutdownTimeoutMs }, 'shutdown: cutting off requests that are still running');
        http.closeAllConnections();
      }, config.shutdownTimeoutMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(force);
      await server.stop();
      stopWriteShareWatch();
      await deps.close();
      metrics.close();
      logger.info('shut down cleanly');
    })());
  return { url, deps, server, http, metrics, shutdown };
}

/** The cache mode as the start-up line names it. */
function describeCache(config: Config, storeKind: string): string {
  if (config.cacheMode === 'off') return 'off (CACHE_MODE=off: every read goes to the database)';
  if (storeKind === 'memory') return 'in-process store (set REDIS_URL to use Redis)';
  if (storeKind === 'redis-cluster') {
    const seeds = (config.redisClusterNodes ?? []).map((n) => `${n.host}:${n.port}`).join(',');
    const confirm =
      config.redisClusterWaitReplicas === 0
        ? 'write-throughs not confirmed by replicas'
        : `write-throughs confirmed by ${config.redisClusterWaitReplicas} replica(s) within ${config.redisClusterWaitTimeoutMs} ms`;
    return `redis cluster (seeds ${seeds}; reads from masters; ${confirm}; no local copy)`;
  }
  return config.cacheLocalBytes === 0 ? 'redis (no local copy: CACHE_LOCAL_BYTES=0)' : `redis, with a local copy of up to ${config.cacheLocalBytes} bytes (CACHE_LOCAL_BYTES)`;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);
const ANY_HOST = new Set(['0.0.0.0', '::']);

/** The host part of a URL that reaches this server from this machine. */
function urlHostOf(host: string): string {
  if (ANY_HOST.has(host)) return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/** Who can connect, for the start-up log. */
function describeListen(host: string, port: number): string {
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (LOOPBACK_HOSTS.has(host)) return `${address}, this machine only (HOST=0.0.0.0 accepts other machines)`;
  if (ANY_HOST.has(host)) return `${address}, every interface`;
  return address;
}

/** Says once, at start, who may call this server; an open server says so as a warning. */
function logAccessControl(config: Config, logger: Logger): void {
  const routerOpen = config.routerSecret === undefined;
  const writesOpen = config.writeTokens.length === 0;
  if (routerOpen && writesOpen) {
    logger.warn(
      'access control is off: any client that reaches this port may run queries and mutations (set ROUTER_SECRET and WRITE_TOKENS)',
    );
  } else if (routerOpen) {
    logger.warn('ROUTER_SECRET is unset: any client that reaches this port may run queries; mutations need a write token');
  } else if (writesOpen) {
    logger.warn('WRITE_TOKENS is unset: every caller with the router secret may run mutations');
  } else {
    logger.info('access control: GraphQL requests need the router secret, mutations a write token');
  }
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'));

if (isEntryPoint) {
  start().then(
    (running) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          running.shutdown().then(
            () => process.exit(0),
            (err: unknown) => {
              running.deps.logger.error({ err }, 'shutdown failed');
              process.exit(1);
            },
          );
        });
      }
    },
    (err: unknown) => {
      if (err instanceof ConfigError) console.error(err.message);
      else console.error('freshgraph failed to start:', err);
      process.exit(1);
    },
  );
}
