import { createServer as createHttpServer, type Server } from 'node:http';
import { ConfigError, loadConfig } from './config.js';
import { createDependencies, type Dependencies } from './dependencies.js';
import { createLogger } from './logger.js';
import { createServer, type FreshgraphServer } from './server.js';

export interface Running {
  readonly url: string;
  readonly deps: Dependencies;
  readonly server: FreshgraphServer;
  readonly http: Server;
  /** Stops accepting, finishes in-flight requests and their cache writes, closes pools. */
  shutdown(): Promise<void>;
}

/** Config -> clients -> server -> listen. Exported so tests can run the real thing in-process. */
export async function start(env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel);
  const deps = await createDependencies(config, logger);
  logger.info(
    {
      database: deps.db.kind === 'pglite' ? `embedded PGlite (${deps.db.location})` : `postgres (${deps.db.location})`,
      cache:
        config.cacheMode === 'off'
          ? 'off (CACHE_MODE=off: every read goes to the database)'
          : deps.store.kind === 'memory'
            ? 'in-process store (set REDIS_URL to use Redis)'
            : 'redis',
    },
    deps.db.kind === 'pglite' || deps.store.kind === 'memory'
      ? 'running on the embedded defaults: fine for trying it out, not for production'
      : 'running on Postgres and Redis',
  );

  const server = createServer({
    logger,
    createContext: deps.createContext,
    introspection: config.introspection,
    sandbox: config.sandbox,
    routes: (req, res, path) => {
      if (path === '/healthz') {
        res.setHeader('content-type', 'application/json');
        res.end('{"status":"ok"}');
        return true;
      }
      return false;
    },
  });
  await server.start();
  const http = createHttpServer(server.handler);
  http.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => resolve());
  });
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}/graphql`;
  logger.info({ url }, 'freshgraph is serving');

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      logger.info('shutting down: no new connections, finishing requests in flight');
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      const force = setTimeout(() => http.closeAllConnections(), 10_000);
      await closed;
      clearTimeout(force);
      await server.stop();
      await deps.close();
      logger.info('shut down cleanly');
    })());
  return { url, deps, server, http, shutdown };
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
