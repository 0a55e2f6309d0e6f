/**
 * What the bench can run, one entry per configuration: how to start it and what
 * it holds. Everything that differs between configurations is read from here.
 */
export const CONFIGURATIONS = ['freshgraph', 'freshgraph-local', 'cache-off', 'response-cache', 'plain-apollo', 'http-ceiling'] as const;
/** What `--cluster` runs instead: the same server on one Redis and on a Redis Cluster, both started by the bench. */
export const CLUSTER_CONFIGURATIONS = ['freshgraph', 'freshgraph-cluster'] as const;
export type ConfigurationName = (typeof CONFIGURATIONS)[number] | (typeof CLUSTER_CONFIGURATIONS)[number];

export interface Configuration {
  readonly name: ConfigurationName;
  /** One line for `--help` and the report. */
  readonly summary: string;
  /** The compiled entry point, relative to the build directory. */
  readonly entry: string;
  /** It reads and writes its own copy of the data set (false: it holds no data at all). */
  readonly database: boolean;
  /** What it keeps in Redis: entity envelopes, whole responses, or nothing. */
  readonly cache: 'entities' | 'responses' | 'none';
  /** The request that answers 2xx once it is serving. */
  readonly health: { readonly path: string; readonly headers?: Readonly<Record<string, string>> };
  readonly env: Readonly<Record<string, string>>;
  /** Its bars in the chart. */
  readonly color: string;
}

export const CONFIGURATION: Readonly<Record<ConfigurationName, Configuration>> = {
  freshgraph: {
    name: 'freshgraph',
    summary: 'this server (dist/src/main.js): the write-through cache on Redis, without the local copy (CACHE_LOCAL_BYTES=0), as measured before it',
    entry: 'src/main.js',
    database: true,
    cache: 'entities',
    health: { path: '/healthz' },
    env: { CACHE_MODE: 'on', CACHE_LOCAL_BYTES: '0' },
    color: '#2f7d32',
  },
  'freshgraph-local': {
    name: 'freshgraph-local',
    summary: 'the same server with its local copy in front of Redis (CACHE_LOCAL_BYTES=64 MiB: CLIENT TRACKING and the read barrier)',
    entry: 'src/main.js',
    database: true,
    cache: 'entities',
    health: { path: '/healthz' },
    env: { CACHE_MODE: 'on', CACHE_LOCAL_BYTES: String(64 * 1024 * 1024) },
    color: '#8bc34a',
  },
  'freshgraph-cluster': {
    name: 'freshgraph-cluster',
    summary: 'the same server on a Redis Cluster (REDIS_CLUSTER_NODES): 3 masters with a replica each, write-throughs confirmed by a replica',
    entry: 'src/main.js',
    database: true,
    cache: 'entities',
    health: { path: '/healthz' },
    env: { CACHE_MODE: 'on' },
    color: '#7b3fa0',
  },
  'cache-off': {
    name: 'cache-off',
    summary: 'the same server with CACHE_MODE=off: every read from Postgres',
    entry: 'src/main.js',
    database: true,
    cache: 'none',
    health: { path: '/healthz' },
    env: { CACHE_MODE: 'off' },
    color: '#8a8a8a',
  },
  'response-cache': {
    name: 'response-cache',
    summary: "our schema and resolvers (cache off) behind Apollo's response cache on Redis",
    entry: 'bench/peers/response-cache.js',
    database: true,
    cache: 'responses',
    health: { path: '/healthz' },
    env: {},
    color: '#c0632b',
  },
  'plain-apollo': {
    name: 'plain-apollo',
    summary: 'Apollo Server 5 standalone, knex/pg resolvers, a DataLoader, no cache',
    entry: 'bench/peers/plain-apollo.js',
    database: true,
    cache: 'none',
    // Apollo's documented health check: a GET operation, with the header its CSRF prevention asks for.
    health: { path: '/graphql?query=%7B__typename%7D', headers: { 'apollo-require-preflight': 'true' } },
    env: {},
    color: '#3b6fb6',
  },
  'http-ceiling': {
    name: 'http-ceiling',
    summary: 'bare node:http, one fixed product(id) body for every POST: the HTTP ceiling',
    entry: 'bench/peers/http-ceiling.js',
    database: false,
    cache: 'none',
    health: { path: '/healthz' },
    env: {},
    color: '#b9b9b9',
  },
};
