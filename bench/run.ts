/**
 * `npm run bench`: freshgraph against what a team would run instead (the same
 * server with its cache off, Apollo's full-response cache, a plain Apollo Server
 * on knex/pg) and against the HTTP ceiling of the machine, each a separate
 * process on loopback, driven with the same seeded request streams in
 * interleaved rounds. With `--cluster`: freshgraph on one Redis against
 * freshgraph on a Redis Cluster, the same way. See `npm run bench -- --help`
 * and docs/benchmark.md.
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { CONFIGURATION } from './lib/configurations.js';
import { cloneDataSet, databaseUrl, dropDatabases, ensureDataSet, loadAccountIds, loadIds, orderCounts, productResponse } from './lib/data.js';
import { listTraffic, productTraffic, runAutocannon, runMixed, sendAll, type RunResult } from './lib/drivers.js';
import { AckedOrders, AckedVersions } from './lib/freshness.js';
import { ACCOUNT_WORKLOADS, HELP, parseOptions, type BenchOptions, type ConfigurationName, type WorkloadName } from './lib/options.js';
import { ROOT, buildServers, startServer, type ProbeStats, type ServerProcess } from './lib/processes.js';
import { ownRedisServers, sharedRedis, type CacheServers } from './lib/caches.js';
import { seededRandom } from './lib/random.js';
import { writeReport, type Cell, type RunInfo, type SoakSample } from './lib/report.js';
import { verifyBodies } from './lib/verify.js';
import { LIST_CHECKED_QUERY, LIST_QUERY, PRODUCT_QUERY, PRODUCTS_QUERY, RequestFactory, workloadSpec } from './lib/workloads.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Lower-case, no dashes: a database-name suffix per configuration. */
const slug = (name: ConfigurationName) => name.replace(/-/g, '_');

async function delta(server: ServerProcess, before: ProbeStats): Promise<ProbeStats> {
  const after = await server.stats();
  return {
    sql: after.sql - before.sql,
    redis: after.redis - before.redis,
    roundTrips: after.roundTrips - before.roundTrips,
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
    graphqlErrors: after.graphqlErrors - before.graphqlErrors,
    cpuUs: after.cpuUs - before.cpuUs,
    rss: server.rss(),
    heapUsed: after.heapUsed,
    heapTotal: after.heapTotal,
  };
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** The rows the workloads read: products, and bench accounts (for the lists), each in rank order. */
interface DataSet {
  readonly products: readonly string[];
  readonly accounts: readonly string[];
}

/**
 * Every key in every cache that a read workload will touch, so "warm" means warm:
 * for freshgraph every product (500 a request) or every account's first page of
 * orders (its Account, its list window and the orders on the page); for Apollo's
 * response cache, keyed by whole operations, one entry per request the workload
 * can send (`product(id)` per product, the list query per account).
 */
async function prewarm(server: ServerProcess, workload: WorkloadName, data: DataSet, connections: number): Promise<void> {
  const started = Date.now();
  const lists = workloadSpec(workload, connections, 1).data === 'lists';
  const cache = CONFIGURATION[server.name].cache;
  const each = (ids: readonly string[], query: string) =>
    (function* () {
      for (const id of ids) yield JSON.stringify({ query, variables: { id } });
    })();
  let bodies: Iterable<string>;
  if (lists && cache !== 'none') {
    // The response cache keys the mixed workload's query (with totalCount) apart from the list workload's.
    bodies = each(data.accounts, cache === 'responses' && workload === 'listmix95' ? LIST_CHECKED_QUERY : LIST_QUERY);
  } else if (cache === 'entities') {
    bodies = (function* () {
      for (const batch of chunks(data.products, 500)) yield JSON.stringify({ query: PRODUCTS_QUERY, variables: { ids: batch } });
    })();
  } else if (cache === 'responses') {
    bodies = each(data.products, PRODUCT_QUERY);
  } else {
    return;
  }
  const failures = await sendAll(server.url, bodies, connections);
  if (failures > 0) throw new Error(`${server.name}: ${failures} pre-warm requests failed`);
  const what = lists ? `${data.accounts.length} accounts' orders` : `${data.products.length} ids`;
  log(`  pre-warmed ${server.name} with ${what} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** What a mixed workload checks its reads against, per configuration. */
interface Acked {
  readonly versions: AckedVersions;
  /** Set at the start of each list workload, from the configuration's database. */
  orders?: AckedOrders;
}

async function runOnce(
  server: ServerProcess,
  workload: WorkloadName,
  options: BenchOptions,
  factory: RequestFactory,
  acked: Acked,
  seconds: number,
  seed: number,
): Promise<RunResult> {
  const spec = workloadSpec(workload, options.connections, options.batch);
  if (spec.driver === 'mixed') {
    const traffic = spec.data === 'lists' ? listTraffic(factory, acked.orders as AckedOrders) : productTraffic(factory, acked.versions);
    return runMixed(server.url, traffic, spec.writeShare, spec.connections, seconds, seededRandom(seed));
  }
  return runAutocannon(server.url, workload, factory, options.batch, spec.connections, seconds);
}

async function runWorkloads(
  options: BenchOptions,
  servers: readonly ServerProcess[],
  data: DataSet,
  caches: CacheServers,
  databaseOf: (name: ConfigurationName) => string,
): Promise<Map<WorkloadName, Map<ConfigurationName, Cell>>> {
  const results = new Map<WorkloadName, Map<ConfigurationName, Cell>>();
  const acked = new Map<ConfigurationName, Acked>(servers.map((s) => [s.name, { versions: new AckedVersions(data.products.length) }]));
  const factoryOf = (seed: number) => new RequestFactory(data.products, options.zipf, seed, data.accounts);
  const nameWidth = Math.max(14, ...servers.map((s) => s.name.length));
  for (const [w, workload] of options.workloads.entries()) {
    const spec = workloadSpec(workload, options.connections, options.batch);
    log(`\n${workload}: ${spec.title.replace(/`/g, '')}`);
    const cells = new Map<ConfigurationName, Cell>(servers.map((s) => [s.name, { rounds: [], probes: [], redisCpuUs: [] }]));
    results.set(workload, cells);
    // "Warm" means every product is cached when a reading workload starts. Keys live CACHE_TTL_SECONDS
    // (300 s) in both caches, which is shorter than a whole run, so this is done before each such workload,
    // on an emptied cache: a read that hits does not extend a key's TTL, so only a fill starts the 300 s anew.
    // Apollo's response cache can only be warmed for the operations a workload sends (it caches whole operations):
    // product(id) (~100,000 requests) and the two list queries (one per account). It is warmed first, so freshgraph's warm-up is the most recent.
    if (workload === 'product' || workload === 'list' || workload === 'listmix95') {
      for (const server of servers) if (CONFIGURATION[server.name].cache === 'responses') await prewarm(server, workload, data, options.connections);
    }
    if (spec.writeShare < 1) {
      for (const server of servers) {
        if (CONFIGURATION[server.name].cache !== 'entities') continue;
        await caches.empty(server.name);
        await prewarm(server, workload, data, options.connections);
      }
    }
    if (spec.driver === 'mixed' && spec.data === 'lists') {
      // What each account holds now (the seeded orders, the sample order, orders of earlier workloads): only orders placed from here on are tracked.
      for (const server of servers) {
        const a = acked.get(server.name) as Acked;
        a.orders = new AckedOrders(CONFIGURATION[server.name].database ? await orderCounts(databaseOf(server.name), data.accounts) : new Int32Array(data.accounts.length));
      }
    }
    if (options.warmup > 0) {
      for (const server of servers) {
        await runOnce(server, workload, options, factoryOf(1000 + w), acked.get(server.name) as Acked, options.warmup, 7);
      }
    }
    for (let round = 0; round < options.rounds; round++) {
      // Interleaved: each round starts with a different configuration, so drift in the shared machine's load spreads evenly.
      const order = servers.map((_, i) => servers[(i + round) % servers.length] as ServerProcess);
      for (const server of order) {
        // The same seed for every configuration in a round: identical request streams.
        const factory = factoryOf(10_000 * (w + 1) + round);
        const before = await server.stats();
        const redisBefore = await caches.cpuUs(server.name);
        const measured = await runOnce(server, workload, options, factory, acked.get(server.name) as Acked, options.duration, 31 * (round + 1));
        const probe = await delta(server, before);
        const redisCpuUs = (await caches.cpuUs(server.name)) - redisBefore;
        // autocannon does not read bodies: the probe counts GraphQL errors in the server (the mixed driver checks every body itself).
        let result = spec.driver === 'autocannon' ? { ...measured, errors: measured.errors + probe.graphqlErrors } : measured;
        // A fixed body is not data: there is nothing stale or fresh about the ceiling's reads.
        if (!CONFIGURATION[server.name].database) result = { ...result, checkedReads: 0, staleReads: 0 };
        const cell = cells.get(server.name) as Cell;
        cell.rounds.push(result);
        cell.probes.push(probe);
        cell.redisCpuUs.push(redisCpuUs);
        log(
          `  round ${round + 1}/${options.rounds} ${server.name.padEnd(nameWidth)} ${Math.round(result.rps).toLocaleString('en-US').padStart(7)} req/s` +
            `  p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  CPU ${Math.round(probe.cpuUs / Math.max(1, result.requests))} µs/req (load generator ${Math.round(result.generatorCpuUs / Math.max(1, result.requests))})  errors ${result.errors}` +
            (Number.isNaN(redisCpuUs) ? '' : `  Redis CPU ${Math.round(redisCpuUs / Math.max(1, result.requests))} µs/req`) +
            (result.checkedReads > 0 ? `  stale ${result.staleReads}/${result.checkedReads}` : ''),
        );
      }
    }
  }
  return results;
}

async function runSoak(options: BenchOptions, server: ServerProcess, ids: readonly string[], redisKeys: () => Promise<number>): Promise<SoakSample[]> {
  log(`soak: warming ${ids.length.toLocaleString('en-US')} keys`);
  // A fill is best effort (a timed-out fill is dropped, by design): read again until (nearly) every key is there.
  let keys = 0;
  for (let pass = 0; pass < 3 && keys < ids.length; pass++) {
    await prewarm(server, 'product', { products: ids, accounts: [] }, options.connections);
    keys = await redisKeys();
    log(`  keys in Redis after pass ${pass + 1}: ${keys.toLocaleString('en-US')}`);
  }
  const heap = await server.stats();
  const samples: SoakSample[] = [{ minute: 0, rss: server.rss(), heapUsed: heap.heapUsed, heapTotal: heap.heapTotal, rps: 0, stale: 0, reads: 0, errors: 0, keys }];
  log(`  RSS ${(server.rss() / 2 ** 20).toFixed(0)} MB`);
  // Uniform ids (Zipf exponent 0): the whole key space is read, not only the hot head.
  const factory = new RequestFactory(ids, 0, 99);
  const acked = new AckedVersions(ids.length);
  const random = seededRandom(5);
  const started = Date.now();
  const endAt = started + options.soakMinutes * 60_000;
  while (Date.now() < endAt) {
    const seconds = Math.min(10, (endAt - Date.now()) / 1000);
    if (seconds < 0.2) break;
    const r = await runMixed(server.url, productTraffic(factory, acked), 0.2, options.connections, seconds, random);
    const heapNow = await server.stats();
    const sample = {
      minute: (Date.now() - started) / 60_000,
      rss: server.rss(),
      heapUsed: heapNow.heapUsed,
      heapTotal: heapNow.heapTotal,
      rps: r.rps,
      stale: r.staleReads,
      reads: r.checkedReads,
      errors: r.errors,
      keys: -1,
    };
    samples.push(sample);
    log(
      `  ${sample.minute.toFixed(1)} min: RSS ${(sample.rss / 2 ** 20).toFixed(0)} MB (heap ${(sample.heapUsed / 2 ** 20).toFixed(0)}/${(sample.heapTotal / 2 ** 20).toFixed(0)} MB), ` +
        `${Math.round(r.rps)} req/s, stale ${r.staleReads}, errors ${r.errors}`,
    );
  }
  const last = samples[samples.length - 1] as SoakSample;
  last.keys = await redisKeys();
  return samples;
}

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const options = parsed;
  const soak = options.soakMinutes > 0;
  const configurations = soak && !process.argv.some((a) => a.startsWith('--config')) ? (['freshgraph'] as const) : options.configurations;
  const startedAt = new Date();
  const info: RunInfo = {
    startedAt,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    node: process.version,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}`,
    loadBefore: os.loadavg(),
    loadAfter: [],
    options,
    postgres: '',
    redis: '',
  };

  // Accounts and their orders only when a list workload runs: a products-only run seeds, compares and measures what it did before.
  const accounts = options.workloads.some((w) => (ACCOUNT_WORKLOADS as readonly string[]).includes(w)) ? options.accounts : 0;
  await ensureDataSet(options.databaseAdminUrl, options.databaseName, options.products, accounts, log);
  const withData = configurations.filter((c) => CONFIGURATION[c].database);
  // --cluster's copies are named apart, so that it never drops the copy of a regular run going on at the same time.
  const cloneOf = (c: ConfigurationName) => `${options.databaseName}_${options.cluster ? 'cluster_' : ''}${slug(c)}`;
  const clones = withData.map(cloneOf);
  log(`copying the data set for ${withData.join(', ')}`);
  await cloneDataSet(options.databaseAdminUrl, options.databaseName, clones);
  const templateUrl = databaseUrl(options.databaseAdminUrl, options.databaseName);
  const ids = await loadIds(templateUrl, options.products);
  if (ids.length < options.products) throw new Error(`expected ${options.products} products, found ${ids.length}`);
  const accountIds = await loadAccountIds(templateUrl, accounts);
  if (accountIds.length < accounts) throw new Error(`expected ${accounts} bench accounts, found ${accountIds.length}`);
  const data: DataSet = { products: ids, accounts: accountIds };
  // The ceiling answers every request with the most popular product, as the data set holds it.
  const ceilingBody = configurations.includes('http-ceiling') ? await productResponse(templateUrl, ids[0] as string) : undefined;

  const profileDir = options.profile ? join(ROOT, 'bench', '.data', 'profiles') : undefined;
  const buildDir = join(ROOT, 'bench', '.data', `build-${process.pid}`);
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const servers: ServerProcess[] = [];
  let caches: CacheServers | undefined;
  let cleaning: Promise<void> | undefined;
  // Once only, whichever comes first: the end of the run, a failure or Ctrl-C.
  const cleanUp = () =>
    (cleaning ??= (async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await caches?.close();
      await dropDatabases(options.databaseAdminUrl, clones);
      rmSync(buildDir, { recursive: true, force: true });
    })());
  // Ctrl-C: stop the servers (and the bench's own Redis servers) and remove what this run created before leaving.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`\n${signal}: stopping the servers and cleaning up`);
      cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    caches = options.cluster ? await ownRedisServers(options.prefix, log) : await sharedRedis(options.redisUrl, options.prefix, configurations);
    info.redis = caches.version;
    log('compiling the servers');
    buildServers(buildDir);
    for (const name of configurations) {
      servers.push(
        await startServer({
          name,
          databaseUrl: CONFIGURATION[name].database ? databaseUrl(options.databaseAdminUrl, cloneOf(name)) : undefined,
          cache: caches.env(name),
          buildDir,
          profileDir,
          env: {
            // The soak keeps its million keys for the whole run: TTL longer than the run (it is a safety net, not freshness).
            ...(soak ? { CACHE_TTL_SECONDS: String(Math.max(3600, Math.ceil(options.soakMinutes * 60 + 1800))) } : {}),
            ...(name === 'http-ceiling' ? { CEILING_BODY: ceilingBody as string } : {}),
          },
        }),
      );
      log(`started ${name} (pid ${servers[servers.length - 1]?.pid})`);
    }
    info.postgres = await postgresVersion(options.databaseAdminUrl);

    if (soak) {
      const server = servers[0] as ServerProcess;
      const cache = caches;
      const samples = await runSoak(options, server, ids, () => cache.count(server.name));
      info.loadAfter = os.loadavg();
      const files = writeReport(resolve(ROOT, options.out), info, new Map(), samples);
      log(`\nreport: ${files.markdown}`);
      process.stdout.write(files.table);
      return;
    }
    const compared = await verifyBodies(servers, data, options.batch, ceilingBody).catch((err: unknown) => {
      // A server that answered wrongly usually logged why.
      const logs = servers.map((s) => `--- ${s.name} ---\n${s.recentOutput().trim() || '(nothing logged)'}`).join('\n');
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nwhat the servers logged:\n${logs}`);
    });
    log(`response bodies: ${compared} sample requests answered with the same bytes by ${servers.map((s) => s.name).join(', ')}`);
    const results = await runWorkloads(options, servers, data, caches, (name) => databaseUrl(options.databaseAdminUrl, cloneOf(name)));
    info.loadAfter = os.loadavg();
    const files = writeReport(resolve(ROOT, options.out), info, results, []);
    process.stdout.write(`\n${files.table}\n`);
    log(`report: ${files.markdown}\nchart:  ${files.chart}`);
  } finally {
    await cleanUp();
  }
}

async function postgresVersion(adminUrl: string): Promise<string> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const result = await client.query<{ server_version: string }>('show server_version');
    return result.rows[0]?.server_version ?? '?';
  } finally {
    await client.end();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
