import { parseArgs } from 'node:util';
import { CLUSTER_CONFIGURATIONS, CONFIGURATION, CONFIGURATIONS, type ConfigurationName } from './configurations.js';

export { CONFIGURATIONS, type ConfigurationName };

export const WORKLOADS = ['product', 'products', 'entities', 'mix95', 'mix80', 'mutation', 'mutation1', 'list', 'listmix95', 'order', 'create', 'categorize'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];
/** The workloads on the accounts' order lists: they need --accounts above 0. */
export const ACCOUNT_WORKLOADS = ['list', 'listmix95', 'order'] as const satisfies readonly WorkloadName[];
/** What `--cluster` measures unless --workload says otherwise: the two reads the issue asks for, and the write the replica confirms. */
export const CLUSTER_WORKLOADS = ['product', 'products', 'mutation'] as const satisfies readonly WorkloadName[];

export interface BenchOptions {
  /** Measured seconds per round, per workload and configuration. @default 6 */
  readonly duration: number;
  /** Seconds of unmeasured load per workload and configuration before the first round. @default 3 */
  readonly warmup: number;
  /** @default 32 */
  readonly connections: number;
  /** Products in the data set (seeded once, reused). @default 100000 */
  readonly products: number;
  /** Bench accounts in the data set, with Zipf-distributed order counts (seeded once, reused). @default 5000; 1000 with --quick; 0 with --soak */
  readonly accounts: number;
  /** Interleaved rounds; the table shows medians. @default 5 */
  readonly rounds: number;
  readonly workloads: readonly WorkloadName[];
  readonly configurations: readonly ConfigurationName[];
  /** Ids per `products(ids)` / `_entities` request. @default 100 */
  readonly batch: number;
  /** Zipf exponent of the id popularity. @default 0.99 */
  readonly zipf: number;
  /** Admin URL of the Postgres server; the bench creates its own databases on it. */
  readonly databaseAdminUrl: string;
  /** Name of the seeded template database (reused across runs). @default 'freshgraph_bench' */
  readonly databaseName: string;
  /** Redis URL with the bench's own DB number. @default 'redis://127.0.0.1:6379/5' */
  readonly redisUrl: string;
  /** Every key the bench creates starts with this. @default 'fgbench' */
  readonly prefix: string;
  /** Where the report and the chart go. @default 'bench/results' */
  readonly out: string;
  /** Minutes of mixed load for the memory soak (0: no soak). @default 0, 10 with --soak */
  readonly soakMinutes: number;
  /** Keys in Redis during the soak. @default 1000000 */
  readonly soakKeys: number;
  /** Write a CPU profile (node --cpu-prof) of each server to bench/.data/profiles. @default false */
  readonly profile: boolean;
  /** A label for this run in the report. */
  readonly note: string;
  readonly quick: boolean;
  /**
   * Instead of the comparison with other servers: freshgraph on one Redis against freshgraph on a
   * Redis Cluster (3 masters, 1 replica each), both redis-server processes of the bench's own. @default false
   */
  readonly cluster: boolean;
}

const HELP = `npm run bench -- [options]

  --duration <s>       measured seconds per round (default 6; --quick: 2)
  --warmup <s>         unmeasured seconds before the first round (default 3; --quick: 1)
  --connections <n>    concurrent connections (default 32)
  --products <n>       size of the data set (default 100000; --quick: 10000)
  --accounts <n>       bench accounts, the account at rank r with max(1, 5000/r) orders (default 5000; --quick: 1000)
  --rounds <n>         interleaved rounds, medians reported (default 5; --quick: 1)
  --workload <list>    comma-separated, from: ${WORKLOADS.join(', ')} (default all)
  --config <list>      comma-separated configurations (default all):
${CONFIGURATIONS.map((c) => `                         ${c.padEnd(15)}${CONFIGURATION[c].summary}`).join('\n')}
                       The report gives freshgraph's ratio to each of the others, and its share of http-ceiling.
  --batch <n>          ids per products(ids) / _entities request (default 100)
  --zipf <s>           Zipf exponent of id popularity (default 0.99)
  --quick              a short run on a small data set
  --soak               instead of the workloads: mixed 80/20 load with --soak-keys keys in Redis,
                       RSS sampled every 10 s, for --soak-minutes (default 10)
  --soak-minutes <m>   length of the soak (default 10)
  --soak-keys <n>      products (and so cache keys) for the soak (default 1000000)
  --cluster            instead of the configurations above: freshgraph on one Redis against freshgraph on a
                       Redis Cluster (REDIS_CLUSTER_NODES; 3 masters with one replica each, write-throughs
                       confirmed by a replica), on workloads ${CLUSTER_WORKLOADS.join(', ')} unless --workload says
                       otherwise. The bench starts both on free loopback ports with the system's redis-server
                       and redis-cli (same settings, no persistence) and stops them when it ends; --redis-url
                       is not used. The report adds a section with the ratio cluster / one Redis, Redis round
                       trips, server CPU and Redis CPU per request; it is named cluster-<date>.md
  --profile            write a CPU profile of each server (node --cpu-prof) to bench/.data/profiles
  --out <dir>          where <date>.md and <date>.svg go (default bench/results)
  --note <text>        a line for the report
  --database-url <url> admin URL of Postgres (default $BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --database <name>    seeded database, reused across runs (default freshgraph_bench; freshgraph_bench_soak for --soak)
  --redis-url <url>    Redis with the bench's own DB number (default $BENCH_REDIS_URL or redis://127.0.0.1:6379/5)
  --prefix <p>         key prefix of everything the bench writes to Redis (default fgbench)
`;

function list<T extends string>(raw: string | undefined, allowed: readonly T[], what: string): readonly T[] {
  if (raw === undefined || raw === 'all') return allowed;
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(allowed as readonly string[]).includes(name)) throw new Error(`Unknown ${what} "${name}"; choose from ${allowed.join(', ')}`);
  }
  return names as T[];
}

function num(raw: string | undefined, def: number, what: string, min = 0): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${what} takes a number of ${min} or more, not "${raw}"`);
  return n;
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    allowPositionals: false,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      products: { type: 'string' },
      rounds: { type: 'string' },
      accounts: { type: 'string' },
      workload: { type: 'string' },
      config: { type: 'string' },
      batch: { type: 'string' },
      zipf: { type: 'string' },
      quick: { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      'soak-minutes': { type: 'string' },
      'soak-keys': { type: 'string' },
      profile: { type: 'boolean', default: false },
      cluster: { type: 'boolean', default: false },
      out: { type: 'string' },
      note: { type: 'string' },
      'database-url': { type: 'string' },
      database: { type: 'string' },
      'redis-url': { type: 'string' },
      prefix: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const cluster = values.cluster ?? false;
  if (cluster && values.soak) throw new Error('--cluster and --soak do not go together: the soak runs on one Redis');
  if (cluster && values.config !== undefined) throw new Error(`--cluster runs its own configurations (${CLUSTER_CONFIGURATIONS.join(', ')}); leave out --config`);
  const soakMinutes = values.soak ? num(values['soak-minutes'], 10, 'soak-minutes', 0.05) : 0;
  const prefix = values.prefix ?? 'fgbench';
  if (!/^[A-Za-z0-9_.-]{1,40}$/.test(prefix)) throw new Error('--prefix takes 1-40 letters, digits, "_", "." or "-"');
  // The soak's million products live in a data set of their own, so the regular run's copies stay small.
  const databaseName = values.database ?? (values.soak ? 'freshgraph_bench_soak' : 'freshgraph_bench');
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(databaseName)) throw new Error('--database takes a lower-case identifier');
  const options: BenchOptions = {
    duration: num(values.duration, quick ? 2 : 6, 'duration', 0.2),
    warmup: num(values.warmup, quick ? 1 : 3, 'warmup', 0),
    connections: Math.round(num(values.connections, 32, 'connections', 1)),
    products: Math.round(num(values.products, soakMinutes > 0 ? num(values['soak-keys'], 1_000_000, 'soak-keys', 1) : quick ? 10_000 : 100_000, 'products', 200)),
    accounts: Math.round(num(values.accounts, soakMinutes > 0 ? 0 : quick ? 1000 : 5000, 'accounts', 0)),
    rounds: Math.round(num(values.rounds, quick ? 1 : 5, 'rounds', 1)),
    workloads: cluster && values.workload === undefined ? CLUSTER_WORKLOADS : list(values.workload, WORKLOADS, 'workload'),
    configurations: cluster ? CLUSTER_CONFIGURATIONS : list(values.config, CONFIGURATIONS, 'configuration'),
    batch: Math.round(num(values.batch, 100, 'batch', 1)),
    zipf: num(values.zipf, 0.99, 'zipf', 0),
    databaseAdminUrl: values['database-url'] ?? env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    databaseName,
    redisUrl: values['redis-url'] ?? env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379/5',
    prefix,
    out: values.out ?? 'bench/results',
    soakMinutes,
    soakKeys: Math.round(num(values['soak-keys'], 1_000_000, 'soak-keys', 1)),
    profile: values.profile ?? false,
    note: values.note ?? '',
    quick,
    cluster,
  };
  const needAccounts = options.workloads.filter((w) => (ACCOUNT_WORKLOADS as readonly string[]).includes(w));
  if (needAccounts.length > 0 && options.accounts === 0 && soakMinutes === 0) throw new Error(`--workload ${needAccounts.join(',')} needs accounts: leave out --accounts 0`);
  return options;
}

export { HELP };
