import { z } from 'zod';

/** Where the cache lives, or whether there is one at all. */
export type CacheMode = 'on' | 'off';

/** One `host:port` of REDIS_CLUSTER_NODES. */
export interface ClusterSeed {
  readonly host: string;
  readonly port: number;
}

/**
 * Browser origins that may call the endpoint (CORS): every origin, pages served from
 * this machine (the rule is in http/cors.ts), or exact origins; [] sends no CORS headers.
 */
export type CorsOrigins = '*' | 'loopback' | readonly string[];

export type LogFormat = 'json' | 'pretty';

/** One environment variable: its name, how a set value is parsed, and what an unset one means. */
export interface Variable<T> {
  readonly env: string;
  readonly schema: z.ZodType<T>;
  /** The value while unset (outside production, where `production` is given). */
  readonly default: T;
  /** The value while unset when NODE_ENV=production, where that differs. */
  readonly production?: T;
}

function variable<T>(env: string, schema: z.ZodType<T>, fallback: NoInfer<T>, options: { production?: NoInfer<T> } = {}): Variable<T> {
  return { env, schema, default: fallback, ...options };
}

/** A variable that may stay unset: the code that reads it knows what unset means. */
function optional<T>(env: string, schema: z.ZodType<T>): Variable<T | undefined> {
  return { env, schema, default: undefined };
}

const int = (min: number, max: number) => {
  const message = `use a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: message }).int({ error: message }).min(min, message).max(max, message);
};

const fraction = (min: number, max: number) => {
  const message = `use a number from ${min} to ${max}`;
  return z.coerce.number({ error: message }).min(min, message).max(max, message);
};

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
      .min(1, 'name at least one host:port')
      .transform((seeds): readonly ClusterSeed[] => Object.freeze(seeds)),
  );

const SECRET_MIN = 16;
const secret = z.string().min(SECRET_MIN, `use at least ${SECRET_MIN} characters`).regex(/^[!-~]+$/, 'use printable ASCII without spaces');

const corsOrigins = z.string().transform((value, ctx): CorsOrigins => {
  try {
    return parseCorsOrigins(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const NO_ORIGINS: CorsOrigins = Object.freeze([]);
const NO_TOKENS: readonly string[] = Object.freeze([]);

/**
 * Every environment variable, once: docs/configuration.md lists the same ones with the same
 * defaults (test/unit/config-docs.test.ts holds it to that), and `Config` is derived from them.
 */
export const VARIABLES = {
  /** HTTP port; 0 takes a free one. @default 4000 */
  port: variable('PORT', int(0, 65_535), 4000),
  /**
   * Interface to listen on. Outside production only this machine may connect: access control is
   * off until configured, and a developer's laptop is on networks it does not choose.
   * @default '127.0.0.1', except '0.0.0.0' when NODE_ENV=production
   */
  host: variable('HOST', z.string().min(1), '127.0.0.1', { production: '0.0.0.0' }),
  /** Postgres connection string; unset means an embedded PGlite database under `dataDir`. @default undefined */
  databaseUrl: optional('DATABASE_URL', z.string().url()),
  /** @default 10 */
  databasePoolMax: variable('DATABASE_POOL_MAX', int(1, 200), 10),
  /** Redis connection string; unset means the in-process cache store (or Redis Cluster with `redisClusterNodes`). @default undefined */
  redisUrl: optional('REDIS_URL', z.string().url()),
  /** Seed nodes of a Redis Cluster that holds the cache instead of one Redis; exclusive with `redisUrl`. @default undefined */
  redisClusterNodes: optional('REDIS_CLUSTER_NODES', clusterSeeds),
  /**
   * Replicas of its master that must confirm a write-through (`WAIT`) before it counts as landed on
   * Redis Cluster; 0 only for a cluster without replicas. @default 1
   */
  redisClusterWaitReplicas: variable('REDIS_CLUSTER_WAIT_REPLICAS', int(0, 16), 1),
  /** How long a write-through on Redis Cluster waits for that confirmation; below `redisCommandTimeoutMs`. @default 100 */
  redisClusterWaitTimeoutMs: variable('REDIS_CLUSTER_WAIT_TIMEOUT_MS', int(1, 60_000), 100),
  /**
   * Replicas that must confirm a write-through on one Redis (`WAIT`) before it counts as landed: set it
   * when a replica may be promoted in the master's place (Sentinel), which would otherwise lose the
   * writes it had not received yet. 0 waits for none. @default 0
   */
  redisWaitReplicas: variable('REDIS_WAIT_REPLICAS', int(0, 16), 0),
  /** How long a write-through on one Redis waits for that confirmation; below `redisCommandTimeoutMs`. @default 100 */
  redisWaitTimeoutMs: variable('REDIS_WAIT_TIMEOUT_MS', int(1, 60_000), 100),
  /** Every cache key starts with `<cachePrefix>:`. @default 'fg' */
  cachePrefix: variable('CACHE_PREFIX', z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'use 1-64 letters, digits, "_", "." or "-"'), 'fg'),
  /** Safety-net TTL of every cache key. @default 300 */
  cacheTtlSeconds: variable('CACHE_TTL_SECONDS', int(1, 7 * 24 * 3600), 300),
  /** TTL of a "no such row" entry (version 0); at most `cacheTtlSeconds`. @default 30 */
  cacheAbsentTtlSeconds: variable('CACHE_ABSENT_TTL_SECONDS', int(1, 7 * 24 * 3600), 30),
  /** Members a cached list holds (its first ones, in order); pages past them are read from Postgres. @default 200 */
  cacheListWindow: variable('CACHE_LIST_WINDOW', int(1, 10_000), 200),
  /** XFetch aggressiveness; 0 disables early refresh. @default 1 */
  xfetchBeta: variable('XFETCH_BETA', fraction(0, 100), 1),
  /** `off` serves straight from the database (the benchmark's baseline). @default 'on' */
  cacheMode: variable('CACHE_MODE', z.enum(['on', 'off']), 'on'),
  /** Attempts after the first failed cache write of a mutation. @default 3 */
  cacheWriteRetries: variable('CACHE_WRITE_RETRIES', int(0, 20), 3),
  /** First backoff delay; doubles per attempt, with full jitter. @default 25 */
  cacheWriteBackoffMs: variable('CACHE_WRITE_BACKOFF_MS', int(1, 10_000), 25),
  /** Bound on every Redis command. @default 500 */
  redisCommandTimeoutMs: variable('REDIS_COMMAND_TIMEOUT_MS', int(10, 60_000), 500),
  /** Bound on each attempt to connect to Redis, and on how long start-up waits for it. @default 2000 */
  redisConnectTimeoutMs: variable('REDIS_CONNECT_TIMEOUT_MS', int(10, 60_000), 2000),
  /** How long a fill lease lives. @default 2000 */
  leaseTtlMs: variable('LEASE_TTL_MS', int(10, 60_000), 2000),
  /**
   * How long a reader waits for another reader's fill, from when it first found
   * that reader's lease; no lease outlives its TTL, so that is the default. @default leaseTtlMs
   */
  leaseWaitMs: optional('LEASE_WAIT_MS', int(0, 60_000)),
  /** Consecutive Redis failures that open the circuit breaker. @default 3 */
  breakerFailures: variable('CACHE_BREAKER_FAILURES', int(1, 1000), 3),
  /** How long the open circuit skips Redis before probing again. @default 1000 */
  breakerOpenMs: variable('CACHE_BREAKER_OPEN_MS', int(10, 600_000), 1000),
  /** Pause between passes of the outbox repair worker. @default 250 */
  repairIntervalMs: variable('OUTBOX_REPAIR_INTERVAL_MS', int(10, 600_000), 250),
  /** Outbox rows older than this are replayed by any instance. @default 1000 */
  repairAfterMs: variable('OUTBOX_REPAIR_AFTER_MS', int(0, 3_600_000), 1000),
  /** Wake the repair worker on the outbox triggers' NOTIFY (one connection of its own); false leaves the poll alone. @default true */
  outboxListen: variable('OUTBOX_LISTEN', bool, true),
  /** How often an instance rereads which shape of each type fills the cache (cache_shapes) during a deploy. @default 5000 */
  shapesRefreshMs: variable('CACHE_SHAPES_REFRESH_MS', int(100, 3_600_000), 5000),
  /** Pause between consistency samples; 0 turns the sampler off. @default 1000 */
  consistencySampleIntervalMs: variable('CONSISTENCY_SAMPLE_INTERVAL_MS', int(0, 3_600_000), 1000),
  /** After SIGTERM, keep accepting (while /readyz says 503) this long, for load balancers to notice. @default 0 */
  shutdownDelayMs: variable('SHUTDOWN_DELAY_MS', int(0, 600_000), 0),
  /** After SIGTERM, requests still running after this long are cut off. @default 25000 */
  shutdownTimeoutMs: variable('SHUTDOWN_TIMEOUT_MS', int(0, 3_600_000), 25_000),
  /**
   * Bytes of envelopes each instance keeps in process in front of one Redis (REDIS_URL), kept coherent by
   * CLIENT TRACKING and a read barrier; 0 turns the local copy off. Not used on Redis Cluster or with
   * the in-process store. @default 67108864 (64 MiB)
   */
  cacheLocalBytes: variable('CACHE_LOCAL_BYTES', int(0, 64 * 1024 * 1024 * 1024), 64 * 1024 * 1024),
  /** Entries the in-process store keeps before evicting the least recently used. @default 100000 */
  memoryStoreMaxEntries: variable('MEMORY_STORE_MAX_ENTRIES', int(100, 100_000_000), 100_000),
  /** Data directory of the embedded database. @default '.data/pglite' */
  dataDir: variable('DATA_DIR', z.string().min(1), '.data/pglite'),
  /** @default 'info' */
  logLevel: variable('LOG_LEVEL', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
  /**
   * `pretty`: one readable line per entry (and per request), for a person at a terminal; `json` for
   * machines, and always in production. @default undefined: pretty on a terminal, else json (logger.ts)
   */
  logFormat: optional('LOG_FORMAT', z.enum(['json', 'pretty']) satisfies z.ZodType<LogFormat>),
  /** `production` turns the development conveniences off and closes the development defaults. @default 'development' */
  nodeEnv: variable('NODE_ENV', z.string(), 'development'),

  // Limits: every refusal happens before any database or cache work.
  /** Deepest field nesting of an operation (fragments expanded; introspection fields exempt). @default 8 */
  maxDepth: variable('MAX_DEPTH', int(1, 1000), 8),
  /** Aliased fields in one operation (fragments expanded). @default 15 */
  maxAliases: variable('MAX_ALIASES', int(0, 10_000), 15),
  /** Directive uses in one operation (fragments expanded). @default 50 */
  maxDirectives: variable('MAX_DIRECTIVES', int(0, 10_000), 50),
  /** Lexical tokens in one document; the parser stops past it. @default 1000 */
  maxTokens: variable('MAX_TOKENS', int(10, 1_000_000), 1000),
  /** Cost of one operation: 1 per object it may return, every list multiplied by its bound (docs/security.md). @default 1000 */
  maxCost: variable('MAX_COST', int(1, 100_000_000), 1000),
  /**
   * Total cost of the expensive operations (over a twentieth of MAX_COST) one instance runs at once;
   * more wait in line, up to EXECUTION_TIMEOUT_MS, so a cheap request is never stuck behind them. @default 2000
   */
  maxCostInFlight: variable('MAX_COST_IN_FLIGHT', int(1, 1_000_000_000), 2000),
  /** A response larger than this is not sent: RESPONSE_TOO_LARGE instead. @default 4194304 */
  maxResponseBytes: variable('MAX_RESPONSE_BYTES', int(1024, 1024 * 1024 * 1024), 4 * 1024 * 1024),
  /** Past this, a request's resolvers still to start fail with EXECUTION_TIMEOUT. @default 10000 */
  executionTimeoutMs: variable('EXECUTION_TIMEOUT_MS', int(10, 600_000), 10_000),
  /** Request bodies above this are refused with 413. @default 1048576 */
  maxBodyBytes: variable('MAX_BODY_BYTES', int(1024, 100 * 1024 * 1024), 1024 * 1024),
  /** A request (headers and body) must have arrived within this, or it gets 408. @default 30000 */
  requestTimeoutMs: variable('REQUEST_TIMEOUT_MS', int(100, 3_600_000), 30_000),
  /** The request headers must have arrived within this (at most `requestTimeoutMs`), or the request gets 408. @default 10000 */
  headersTimeoutMs: variable('HEADERS_TIMEOUT_MS', int(100, 3_600_000), 10_000),
  /** An idle keep-alive connection is closed after this; keep it above the router's idle timeout. @default 75000 */
  keepAliveTimeoutMs: variable('KEEP_ALIVE_TIMEOUT_MS', int(100, 3_600_000), 75_000),
  /** Open connections the server accepts; more are closed at once. @default 10000 */
  maxConnections: variable('MAX_CONNECTIONS', int(1, 1_000_000), 10_000),
  /**
   * Browser origins that may call the endpoint (CORS). Outside production, pages served from this
   * machine: with `*`, any page the developer visits could pass the preflight and run mutations.
   * @default 'loopback', except [] when NODE_ENV=production
   */
  corsOrigins: variable('CORS_ORIGINS', corsOrigins, 'loopback', { production: NO_ORIGINS }),
  /** Schema introspection; also shows field suggestions in errors when on. @default true, except false when NODE_ENV=production */
  introspection: variable('INTROSPECTION', bool, true, { production: false }),
  /** Read by Apollo Server itself, which then reports usage to GraphOS Studio; `Config` keeps only `usageReporting`. @default undefined */
  apolloKey: optional('APOLLO_KEY', z.string()),

  // Access control: unset means open (said once at start).
  /** Required in `x-router-secret` on every GraphQL request when set. @default undefined */
  routerSecret: optional('ROUTER_SECRET', secret),
  /** Bearer tokens that may run mutations; empty means mutations are open. @default [] */
  writeTokens: variable(
    'WRITE_TOKENS',
    z
      .string()
      .transform((value) => value.split(',').map((token) => token.trim()).filter((token) => token.length > 0))
      .pipe(z.array(secret).min(1, 'name at least one token'))
      .transform((tokens): readonly string[] => Object.freeze(tokens)),
    NO_TOKENS,
  ),

  // Operations.
  /** `extensions.cache` for requests with `x-freshgraph-debug: 1`; always off in production. @default false */
  debugExtensions: variable('DEBUG_EXTENSIONS', bool, false),
  /** Bound on each /readyz check (Postgres, Redis). @default 1000 */
  readyTimeoutMs: variable('READY_TIMEOUT_MS', int(10, 60_000), 1000),
  /** A /readyz result is reused this long; concurrent probes share one check. @default 1000 */
  readyCacheMs: variable('READY_CACHE_MS', int(0, 60_000), 1000),
  /** Sliding window of the cache write-share gauge. @default 60 */
  writeShareWindowSeconds: variable('WRITE_SHARE_WINDOW_SECONDS', int(5, 3600), 60),
  /** Warn when the write share stays above this for a whole window. @default 0.25 */
  writeShareWarn: variable('WRITE_SHARE_WARN', fraction(0, 1), 0.25),
};

type Declared = { readonly [K in keyof typeof VARIABLES]: (typeof VARIABLES)[K] extends Variable<infer T> ? T : never };
type Field = keyof Declared;

/** The fields the server takes as its operation limits (plugins/query-limits.ts). */
const QUERY_LIMITS = ['maxDepth', 'maxAliases', 'maxDirectives', 'maxTokens', 'maxCost'] as const satisfies readonly Field[];

/**
 * The declared values, plus what follows from them. APOLLO_KEY itself is not kept (Apollo Server
 * reads it), and an unset LEASE_WAIT_MS is resolved to LEASE_TTL_MS.
 */
export type Config = Omit<Declared, 'apolloKey' | 'leaseWaitMs'> & {
  /** @default leaseTtlMs */
  readonly leaseWaitMs: number;
  /** Serve Apollo Sandbox to browsers at GET / and /graphql. @default true, except false when NODE_ENV=production */
  readonly sandbox: boolean;
  /** APOLLO_KEY is set, so Apollo Server reports usage to GraphOS Studio (it reads the key itself). */
  readonly usageReporting: boolean;
  /** The operation limits, as the server takes them. */
  readonly queryLimits: Readonly<Pick<Declared, (typeof QUERY_LIMITS)[number]>>;
};

const FIELDS = Object.keys(VARIABLES) as Field[];
const nameOf = (field: Field): string => VARIABLES[field].env;

const SCHEMA = z
  .object(Object.fromEntries(FIELDS.map((field) => [field, VARIABLES[field].schema.optional()])))
  // Cast: the shape above is made of the declarations' own schemas, field by field.
  .transform((set) => withDefaults(set as Partial<Declared>))
  .superRefine(checkTogether)
  .transform(resolve);

function withDefaults(set: Partial<Declared>): Declared {
  const production = (set.nodeEnv ?? VARIABLES.nodeEnv.default) === 'production';
  const entries = FIELDS.map((field) => {
    const declared: Variable<unknown> = VARIABLES[field];
    const fallback = production && 'production' in declared ? declared.production : declared.default;
    return [field, set[field] ?? fallback];
  });
  // Cast: one entry per declaration, each its schema's output or its default.
  return Object.fromEntries(entries) as Declared;
}

/** The rules between variables, each reported on the variable to change. */
function checkTogether(c: Declared, ctx: z.RefinementCtx): void {
  const refuse = (field: Field, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
  if (c.redisUrl !== undefined && c.redisClusterNodes !== undefined) {
    refuse('redisClusterNodes', `set either ${nameOf('redisUrl')} (one Redis) or ${nameOf('redisClusterNodes')} (Redis Cluster), not both`);
  }
  if (c.redisClusterWaitTimeoutMs >= c.redisCommandTimeoutMs) {
    refuse(
      'redisClusterWaitTimeoutMs',
      `must be below ${nameOf('redisCommandTimeoutMs')} (${c.redisCommandTimeoutMs}), which bounds the whole write`,
    );
  }
  if (c.redisWaitTimeoutMs >= c.redisCommandTimeoutMs) {
    refuse('redisWaitTimeoutMs', `must be below ${nameOf('redisCommandTimeoutMs')} (${c.redisCommandTimeoutMs}), which bounds the whole write`);
  }
  if (c.headersTimeoutMs > c.requestTimeoutMs) {
    refuse(
      'headersTimeoutMs',
      `${c.headersTimeoutMs} is longer than ${nameOf('requestTimeoutMs')} (${c.requestTimeoutMs}); the headers are part of the request`,
    );
  }
}

function resolve(c: Declared): Config {
  const production = c.nodeEnv === 'production';
  const { apolloKey, leaseWaitMs, ...declared } = c;
  return Object.freeze({
    ...declared,
    // An absent row never lives longer than a present one would.
    cacheAbsentTtlSeconds: Math.min(c.cacheAbsentTtlSeconds, c.cacheTtlSeconds),
    leaseWaitMs: leaseWaitMs ?? c.leaseTtlMs,
    // The debug view shows what a request cost; production never serves it, whatever the variable says.
    debugExtensions: c.debugExtensions && !production,
    // Production logs are read by machines, whatever the variable says.
    logFormat: production ? 'json' : c.logFormat,
    sandbox: !production,
    usageReporting: apolloKey !== undefined,
    queryLimits: Object.freeze(Object.fromEntries(QUERY_LIMITS.map((field) => [field, c[field]])) as Config['queryLimits']),
  });
}

/**
 * CORS_ORIGINS: `*`, `loopback`, or comma-separated origins (scheme, host and an optional
 * port; a trailing `/` is dropped). Throws a message naming what is wrong.
 */
function parseCorsOrigins(value: string): CorsOrigins {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) throw new Error('name at least one origin, or * or loopback');
  for (const word of ['*', 'loopback'] as const) {
    if (!entries.includes(word)) continue;
    if (entries.length > 1) throw new Error(`use ${word} alone, or a list of origins without it`);
    return word;
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
  const set = Object.fromEntries(
    FIELDS.map((field) => [field, env[nameOf(field)]]).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = SCHEMA.safeParse(set);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const [field, ...rest] = issue.path;
      const name = typeof field === 'string' && field in VARIABLES ? nameOf(field as Field) : String(field);
      return `  ${[name, ...rest].join('.')}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
