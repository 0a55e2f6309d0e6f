import { z } from 'zod';

/** Where the cache lives, or whether there is one at all. */
export type CacheMode = 'on' | 'off';

/** One `host:port` of REDIS_CLUSTER_NODES. */
export interface ClusterSeed {
  readonly host: string;
  readonly port: number;
}

export interface Config {
  /** @default 4000 */
  readonly port: number;
  /** Interface to listen on. @default '0.0.0.0' */
  readonly host: string;
  /** Postgres connection string; unset means an embedded PGlite database under `dataDir`. */
  readonly databaseUrl: string | undefined;
  /** @default 10 */
  readonly databasePoolMax: number;
  /** Redis connection string; unset means the in-process cache store (or Redis Cluster with `redisClusterNodes`). */
  readonly redisUrl: string | undefined;
  /** Seed nodes of a Redis Cluster that holds the cache instead of one Redis; exclusive with `redisUrl`. @default undefined */
  readonly redisClusterNodes: readonly ClusterSeed[] | undefined;
  /**
   * Replicas of its master that must confirm a write-through (`WAIT`) before it counts as landed on
   * Redis Cluster; 0 only for a cluster without replicas. @default 1
   */
  readonly redisClusterWaitReplicas: number;
  /** How long a write-through on Redis Cluster waits for that confirmation. @default 100 */
  readonly redisClusterWaitTimeoutMs: number;
  /** Every cache key starts with `<cachePrefix>:`. @default 'fg' */
  readonly cachePrefix: string;
  /** Safety-net TTL of every cache key. @default 300 */
  readonly cacheTtlSeconds: number;
  /** TTL of a "no such row" entry (version 0); at most `cacheTtlSeconds`. @default 30 */
  readonly cacheAbsentTtlSeconds: number;
  /** Members a cached list holds (its first ones, in order); pages past them are read from Postgres. @default 200 */
  readonly cacheListWindow: number;
  /** XFetch aggressiveness; 0 disables early refresh. @default 1 */
  readonly xfetchBeta: number;
  /** `off` serves straight from the database (the benchmark's baseline). @default 'on' */
  readonly cacheMode: CacheMode;
  /** Attempts after the first failed cache write of a mutation. @default 3 */
  readonly cacheWriteRetries: number;
  /** First backoff delay; doubles per attempt, with full jitter. @default 25 */
  readonly cacheWriteBackoffMs: number;
  /** Bound on every Redis command. @default 500 */
  readonly redisCommandTimeoutMs: number;
  /** Bound on (re)connecting to Redis. @default 2000 */
  readonly redisConnectTimeoutMs: number;
  /** How long a fill lease lives. @default 2000 */
  readonly leaseTtlMs: number;
  /**
   * How long a reader waits for another reader's fill, from when it first found
   * that reader's lease; no lease outlives its TTL, so that is the default. @default leaseTtlMs
   */
  readonly leaseWaitMs: number;
  /** Consecutive Redis failures that open the circuit breaker. @default 3 */
  readonly breakerFailures: number;
  /** How long the open circuit skips Redis before probing again. @default 1000 */
  readonly breakerOpenMs: number;
  /** Pause between passes of the outbox repair worker. @default 250 */
  readonly repairIntervalMs: number;
  /** Outbox rows older than this are replayed by any instance. @default 1000 */
  readonly repairAfterMs: number;
  /** Wake the repair worker on the outbox triggers' NOTIFY (one connection of its own); false leaves the poll alone. @default true */
  readonly outboxListen: boolean;
  /** After SIGTERM, keep accepting (while /readyz says 503) this long, for load balancers to notice. @default 0 */
  readonly shutdownDelayMs: number;
  /** After SIGTERM, requests still running after this long are cut off. @default 25000 */
  readonly shutdownTimeoutMs: number;
  /** Pause between consistency samples; 0 turns the sampler off. @default 1000 */
  readonly consistencySampleIntervalMs: number;
  /** Entries the in-process store keeps before evicting the least recently used. @default 100000 */
  readonly memoryStoreMaxEntries: number;
  /** Data directory of the embedded database. @default '.data/pglite' */
  readonly dataDir: string;
  /** @default 'info' */
  readonly logLevel: string;
  readonly nodeEnv: string;
  /** Serve Apollo Sandbox to browsers at GET / and /graphql. @default true, except false when NODE_ENV=production */
  readonly sandbox: boolean;

  // Limits: every refusal happens before any database or cache work.
  /** Deepest field nesting of an operation (fragments expanded; introspection fields exempt). @default 8 */
  readonly maxDepth: number;
  /** Aliased fields in one operation (fragments expanded). @default 15 */
  readonly maxAliases: number;
  /** Directive uses in one operation (fragments expanded). @default 50 */
  readonly maxDirectives: number;
  /** Lexical tokens in one document; the parser stops past it. @default 1000 */
  readonly maxTokens: number;
  /** Cost of one operation: 1 per field, or the total length of its list arguments. @default 1000 */
  readonly maxCost: number;
  /** Request bodies above this are refused with 413. @default 1048576 */
  readonly maxBodyBytes: number;
  /** A request (headers and body) must have arrived within this, or it gets 408. @default 30000 */
  readonly requestTimeoutMs: number;
  /** The request headers must have arrived within this, or the request gets 408. @default 10000 */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this; keep it above the router's idle timeout. @default 75000 */
  readonly keepAliveTimeoutMs: number;
  /** Open connections the server accepts; more are closed at once. @default 10000 */
  readonly maxConnections: number;
  /**
   * Browser origins that may call the endpoint (CORS): `*`, or exact origins;
   * an empty list sends no CORS headers. @default '*', except [] when NODE_ENV=production
   */
  readonly corsOrigins: '*' | readonly string[];
  /** Schema introspection; also shows field suggestions in errors when on. @default NODE_ENV !== 'production'; INTROSPECTION overrides */
  readonly introspection: boolean;
  /** APOLLO_KEY is set, so Apollo Server reports usage to GraphOS Studio (it reads the key itself). */
  readonly usageReporting: boolean;

  // Access control: unset means open (said once at start).
  /** Required in `x-router-secret` on every GraphQL request when set. @default undefined */
  readonly routerSecret: string | undefined;
  /** Bearer tokens that may run mutations; empty means mutations are open. @default [] */
  readonly writeTokens: readonly string[];

  // Operations.
  /** `extensions.cache` for requests with `x-freshgraph-debug: 1`; always off in production. @default false */
  readonly debugExtensions: boolean;
  /** Bound on each /readyz check (Postgres, Redis). @default 1000 */
  readonly readyTimeoutMs: number;
  /** A /readyz result is reused this long; concurrent probes share one check. @default 1000 */
  readonly readyCacheMs: number;
  /** Sliding window of the cache write-share gauge. @default 60 */
  readonly writeShareWindowSeconds: number;
  /** Warn when the write share stays above this for a whole window. @default 0.25 */
  readonly writeShareWarn: number;
}

const intFrom = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

const bool = z
  .enum(['true', 'false', '1', '0'], { message: 'use true or false' })
  .transform((value) => value === 'true' || value === '1');

/** `host:port,host:port`: IPv6 hosts in brackets (`[::1]:7000`). */
const clusterSeeds = z
  .string()
  .transform((value) => value.split(',').map((seed) => seed.trim()).filter((seed) => seed.length > 0))
  .pipe(
    z
      .array(
        z
          .string()
          .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'use host:port, for example 10.0.0.5:7000')
          .transform((seed): ClusterSeed => {
            const at = seed.lastIndexOf(':');
            return { host: seed.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(seed.slice(at + 1)) };
          })
          .refine((seed) => seed.port >= 1 && seed.port <= 65535, 'a port is 1-65535'),
      )
      .min(1, 'name at least one host:port'),
  );

const SECRET_MIN = 16;
const secret = z.string().min(SECRET_MIN, `use at least ${SECRET_MIN} characters`).regex(/^[!-~]+$/, 'use printable ASCII without spaces');

const schema = z.object({
  PORT: intFrom(4000, 0, 65535),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  DATABASE_POOL_MAX: intFrom(10, 1, 200),
  REDIS_URL: z.string().url().optional(),
  REDIS_CLUSTER_NODES: clusterSeeds.optional(),
  REDIS_CLUSTER_WAIT_REPLICAS: intFrom(1, 0, 16),
  REDIS_CLUSTER_WAIT_TIMEOUT_MS: intFrom(100, 1, 60_000),
  CACHE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'use 1-64 letters, digits, "_", "." or "-"')
    .default('fg'),
  CACHE_TTL_SECONDS: intFrom(300, 1, 7 * 24 * 3600),
  CACHE_ABSENT_TTL_SECONDS: intFrom(30, 1, 7 * 24 * 3600),
  CACHE_LIST_WINDOW: intFrom(200, 1, 10_000),
  XFETCH_BETA: z.coerce.number().min(0).max(100).default(1),
  CACHE_MODE: z.enum(['on', 'off']).default('on'),
  CACHE_WRITE_RETRIES: intFrom(3, 0, 20),
  CACHE_WRITE_BACKOFF_MS: intFrom(25, 1, 10_000),
  REDIS_COMMAND_TIMEOUT_MS: intFrom(500, 10, 60_000),
  REDIS_CONNECT_TIMEOUT_MS: intFrom(2000, 10, 60_000),
  LEASE_TTL_MS: intFrom(2000, 10, 60_000),
  LEASE_WAIT_MS: z.coerce.number().int().min(0).max(60_000).optional(),
  CACHE_BREAKER_FAILURES: intFrom(3, 1, 1000),
  CACHE_BREAKER_OPEN_MS: intFrom(1000, 10, 600_000),
  OUTBOX_REPAIR_INTERVAL_MS: intFrom(250, 10, 600_000),
  OUTBOX_REPAIR_AFTER_MS: intFrom(1000, 0, 3_600_000),
  OUTBOX_LISTEN: bool.default(true),
  CONSISTENCY_SAMPLE_INTERVAL_MS: intFrom(1000, 0, 3_600_000),
  SHUTDOWN_DELAY_MS: intFrom(0, 0, 600_000),
  SHUTDOWN_TIMEOUT_MS: intFrom(25_000, 0, 3_600_000),
  MEMORY_STORE_MAX_ENTRIES: intFrom(100_000, 100, 100_000_000),
  DATA_DIR: z.string().min(1).default('.data/pglite'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.string().default('development'),
  MAX_DEPTH: intFrom(8, 1, 1000),
  MAX_ALIASES: intFrom(15, 0, 10_000),
  MAX_DIRECTIVES: intFrom(50, 0, 10_000),
  MAX_TOKENS: intFrom(1000, 10, 1_000_000),
  MAX_COST: intFrom(1000, 1, 100_000_000),
  MAX_BODY_BYTES: intFrom(1024 * 1024, 1024, 100 * 1024 * 1024),
  REQUEST_TIMEOUT_MS: intFrom(30_000, 100, 3_600_000),
  HEADERS_TIMEOUT_MS: intFrom(10_000, 100, 3_600_000),
  KEEP_ALIVE_TIMEOUT_MS: intFrom(75_000, 100, 3_600_000),
  MAX_CONNECTIONS: intFrom(10_000, 1, 1_000_000),
  CORS_ORIGINS: z.string().transform((value, ctx) => {
    try {
      return parseCorsOrigins(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }).optional(),
  INTROSPECTION: bool.optional(),
  APOLLO_KEY: z.string().optional(),
  ROUTER_SECRET: secret.optional(),
  WRITE_TOKENS: z
    .string()
    .transform((value) => value.split(',').map((token) => token.trim()).filter((token) => token.length > 0))
    .pipe(z.array(secret).min(1, 'name at least one token'))
    .optional(),
  DEBUG_EXTENSIONS: bool.default(false),
  READY_TIMEOUT_MS: intFrom(1000, 10, 60_000),
  READY_CACHE_MS: intFrom(1000, 0, 60_000),
  WRITE_SHARE_WINDOW_SECONDS: intFrom(60, 5, 3600),
  WRITE_SHARE_WARN: z.coerce.number().min(0).max(1).default(0.25),
}).superRefine((e, ctx) => {
  if (e.REDIS_URL !== undefined && e.REDIS_CLUSTER_NODES !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_CLUSTER_NODES'],
      message: 'set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (Redis Cluster), not both',
    });
  }
  if (e.REDIS_CLUSTER_WAIT_TIMEOUT_MS >= e.REDIS_COMMAND_TIMEOUT_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_CLUSTER_WAIT_TIMEOUT_MS'],
      message: `must be below REDIS_COMMAND_TIMEOUT_MS (${e.REDIS_COMMAND_TIMEOUT_MS}), which bounds the whole write`,
    });
  }
});

/**
 * CORS_ORIGINS: `*`, or comma-separated origins (scheme, host and an optional
 * port; a trailing `/` is dropped). Throws a message naming what is wrong.
 */
function parseCorsOrigins(value: string): '*' | readonly string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) throw new Error('name at least one origin, or *');
  if (entries.includes('*')) {
    if (entries.length > 1) throw new Error('use * alone, or a list of origins without it');
    return '*';
  }
  return Object.freeze(
    entries.map((entry) => {
      const url = URL.canParse(entry) ? new URL(entry) : undefined;
      const bare =
        url !== undefined && url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
      if (!bare || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        throw new Error(`"${entry}" is not an origin such as https://shop.example (scheme, host and optional port only)`);
      }
      return url.origin;
    }),
  );
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * The only reader of the environment. Empty strings count as unset so that
 * `DATABASE_URL= npm start` means "embedded", not "invalid URL".
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (e.HEADERS_TIMEOUT_MS > e.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      `Invalid configuration:\n  HEADERS_TIMEOUT_MS: ${e.HEADERS_TIMEOUT_MS} is longer than REQUEST_TIMEOUT_MS (${e.REQUEST_TIMEOUT_MS}); the headers are part of the request`,
    );
  }
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES === undefined ? undefined : Object.freeze(e.REDIS_CLUSTER_NODES),
    redisClusterWaitReplicas: e.REDIS_CLUSTER_WAIT_REPLICAS,
    redisClusterWaitTimeoutMs: e.REDIS_CLUSTER_WAIT_TIMEOUT_MS,
    cachePrefix: e.CACHE_PREFIX,
    cacheTtlSeconds: e.CACHE_TTL_SECONDS,
    // An absent row never lives longer than a present one would.
    cacheAbsentTtlSeconds: Math.min(e.CACHE_ABSENT_TTL_SECONDS, e.CACHE_TTL_SECONDS),
    cacheListWindow: e.CACHE_LIST_WINDOW,
    xfetchBeta: e.XFETCH_BETA,
    cacheMode: e.CACHE_MODE,
    cacheWriteRetries: e.CACHE_WRITE_RETRIES,
    cacheWriteBackoffMs: e.CACHE_WRITE_BACKOFF_MS,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    redisConnectTimeoutMs: e.REDIS_CONNECT_TIMEOUT_MS,
    leaseTtlMs: e.LEASE_TTL_MS,
    leaseWaitMs: e.LEASE_WAIT_MS ?? e.LEASE_TTL_MS,
    breakerFailures: e.CACHE_BREAKER_FAILURES,
    breakerOpenMs: e.CACHE_BREAKER_OPEN_MS,
    repairIntervalMs: e.OUTBOX_REPAIR_INTERVAL_MS,
    repairAfterMs: e.OUTBOX_REPAIR_AFTER_MS,
    outboxListen: e.OUTBOX_LISTEN,
    consistencySampleIntervalMs: e.CONSISTENCY_SAMPLE_INTERVAL_MS,
    shutdownDelayMs: e.SHUTDOWN_DELAY_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    memoryStoreMaxEntries: e.MEMORY_STORE_MAX_ENTRIES,
    dataDir: e.DATA_DIR,
    logLevel: e.LOG_LEVEL,
    nodeEnv: e.NODE_ENV,
    sandbox: !production,
    maxDepth: e.MAX_DEPTH,
    maxAliases: e.MAX_ALIASES,
    maxDirectives: e.MAX_DIRECTIVES,
    maxTokens: e.MAX_TOKENS,
    maxCost: e.MAX_COST,
    maxBodyBytes: e.MAX_BODY_BYTES,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: e.MAX_CONNECTIONS,
    corsOrigins: e.CORS_ORIGINS ?? (production ? Object.freeze([]) : '*'),
    introspection: e.INTROSPECTION ?? !production,
    usageReporting: (e.APOLLO_KEY ?? '') !== '',
    routerSecret: e.ROUTER_SECRET,
    writeTokens: Object.freeze(e.WRITE_TOKENS ?? []),
    // The debug view shows what a request cost; production never serves it, whatever the variable says.
    debugExtensions: e.DEBUG_EXTENSIONS && !production,
    readyTimeoutMs: e.READY_TIMEOUT_MS,
    readyCacheMs: e.READY_CACHE_MS,
    writeShareWindowSeconds: e.WRITE_SHARE_WINDOW_SECONDS,
    writeShareWarn: e.WRITE_SHARE_WARN,
  });
}
