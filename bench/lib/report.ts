import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CONFIGURATION } from './configurations.js';
import type { RunResult } from './drivers.js';
import type { BenchOptions, ConfigurationName, WorkloadName } from './options.js';
import type { ProbeStats } from './processes.js';
import { median } from './random.js';
import { workloadSpec } from './workloads.js';

export interface Cell {
  readonly rounds: RunResult[];
  readonly probes: ProbeStats[];
  /** CPU of the Redis processes serving this configuration, per round, µs; NaN where they are shared (see caches.ts). */
  readonly redisCpuUs: number[];
}

export interface RunInfo {
  readonly startedAt: Date;
  readonly command: string;
  readonly node: string;
  readonly cpus: string;
  readonly loadBefore: number[];
  loadAfter: number[];
  readonly options: BenchOptions;
  postgres: string;
  redis: string;
}

export interface SoakSample {
  readonly minute: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly rps: number;
  readonly stale: number;
  readonly reads: number;
  readonly errors: number;
  keys: number;
}

export interface Summary {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly requests: number;
  /** Hits / (hits + misses) as the probe saw MGET / GET replies; NaN when nothing was read from Redis. */
  readonly hitRatio: number;
  readonly sqlPerRequest: number;
  readonly redisPerRequest: number;
  /** Writes to Redis connections answered (a pipeline counts one per node), per response. */
  readonly roundTripsPerRequest: number;
  /** Server CPU time (user + system) per response, microseconds. */
  readonly cpuUsPerRequest: number;
  /** Load generator CPU per response, microseconds (it shares the cores). */
  readonly generatorUsPerRequest: number;
  /** CPU of the Redis processes per response, microseconds; NaN when they are shared with others. */
  readonly redisCpuUsPerRequest: number;
  readonly rssMb: number;
  readonly checkedReads: number;
  readonly staleReads: number;
  readonly writeP50: number;
}

export function summarize(cell: Cell): Summary {
  const sum = (f: (p: ProbeStats) => number) => cell.probes.reduce((a, p) => a + f(p), 0);
  const requests = cell.rounds.reduce((a, r) => a + r.requests, 0);
  const hits = sum((p) => p.hits);
  const misses = sum((p) => p.misses);
  return {
    rps: median(cell.rounds.map((r) => r.rps)),
    p50: median(cell.rounds.map((r) => r.p50)),
    p99: median(cell.rounds.map((r) => r.p99)),
    errors: cell.rounds.reduce((a, r) => a + r.errors, 0),
    requests,
    hitRatio: hits + misses === 0 ? Number.NaN : hits / (hits + misses),
    sqlPerRequest: requests === 0 ? Number.NaN : sum((p) => p.sql) / requests,
    redisPerRequest: requests === 0 ? Number.NaN : sum((p) => p.redis) / requests,
    roundTripsPerRequest: requests === 0 ? Number.NaN : sum((p) => p.roundTrips) / requests,
    cpuUsPerRequest: requests === 0 ? Number.NaN : sum((p) => p.cpuUs) / requests,
    generatorUsPerRequest: requests === 0 ? Number.NaN : cell.rounds.reduce((a, r) => a + r.generatorCpuUs, 0) / requests,
    redisCpuUsPerRequest: requests === 0 ? Number.NaN : cell.redisCpuUs.reduce((a, b) => a + b, 0) / requests,
    rssMb: Math.max(...cell.probes.map((p) => p.rss)) / 2 ** 20,
    checkedReads: cell.rounds.reduce((a, r) => a + r.checkedReads, 0),
    staleReads: cell.rounds.reduce((a, r) => a + r.staleReads, 0),
    writeP50: median(cell.rounds.map((r) => r.writeP50).filter((v) => !Number.isNaN(v))),
  };
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fixed = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(1)} %` : '–');

interface Target {
  readonly what: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

function ratio(results: Map<WorkloadName, Map<ConfigurationName, Summary>>, workload: WorkloadName, field: 'rps' | 'p50', a: ConfigurationName, b: ConfigurationName): number {
  const x = results.get(workload)?.get(a)?.[field];
  const y = results.get(workload)?.get(b)?.[field];
  return x === undefined || y === undefined ? Number.NaN : x / y;
}

/** The configurations freshgraph is divided by in the ratio table, in the order that matters to a reader. */
const PEERS = ['plain-apollo', 'response-cache', 'cache-off'] as const satisfies readonly ConfigurationName[];

export interface Ratios {
  /** freshgraph ÷ peer: req/s (above 1: freshgraph serves more) and p50 (below 1: freshgraph answers sooner). */
  readonly vs: Partial<Record<(typeof PEERS)[number], { readonly rps: number; readonly p50: number }>>;
  /** freshgraph's req/s as a share of the http-ceiling's. */
  readonly ceilingShare?: number;
}

/** Per workload, freshgraph against each other configuration that ran. */
export function ratios(results: Map<WorkloadName, Map<ConfigurationName, Summary>>): Map<WorkloadName, Ratios> {
  const out = new Map<WorkloadName, Ratios>();
  for (const [workload, byConfig] of results) {
    const fresh = byConfig.get('freshgraph');
    if (fresh === undefined) continue;
    const vs: Ratios['vs'] = {};
    for (const peer of PEERS) {
      const other = byConfig.get(peer);
      if (other) vs[peer] = { rps: fresh.rps / other.rps, p50: fresh.p50 / other.p50 };
    }
    const ceiling = byConfig.get('http-ceiling');
    out.set(workload, ceiling ? { vs, ceilingShare: fresh.rps / ceiling.rps } : { vs });
  }
  return out;
}

function ratioTable(r: Map<WorkloadName, Ratios>, batch: number, connections: number): string | undefined {
  const peers = PEERS.filter((p) => [...r.values()].some((x) => x.vs[p] !== undefined));
  const ceiling = [...r.values()].some((x) => x.ceilingShare !== undefined);
  if (peers.length === 0 && !ceiling) return undefined;
  const header = ['workload', ...peers.map((p) => `vs ${p === 'cache-off' ? '`CACHE_MODE=off`' : p}`), ...(ceiling ? ['share of http-ceiling'] : [])];
  const lines = [`| ${header.join(' | ')} |`, `|---|${header.slice(1).map(() => '---:').join('|')}|`];
  for (const [workload, x] of r) {
    const cells = peers.map((p) => {
      const v = x.vs[p];
      return v === undefined ? '–' : `${fixed(v.rps)}× (p50 ${fixed(v.p50)}×)`;
    });
    if (ceiling) cells.push(pct(x.ceilingShare ?? Number.NaN));
    lines.push(`| ${workloadSpec(workload, connections, batch).title} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function targets(results: Map<WorkloadName, Map<ConfigurationName, Summary>>): Target[] {
  const out: Target[] = [];
  const check = (what: string, goal: string, value: number, ok: (v: number) => boolean, unit = '×') => {
    if (Number.isNaN(value)) return;
    out.push({ what, goal, measured: `${value.toFixed(2)}${unit}`, met: ok(value) });
  };
  check('`product(id)` warm vs `CACHE_MODE=off`', '≥ 2.8×', ratio(results, 'product', 'rps', 'freshgraph', 'cache-off'), (v) => v >= 2.8);
  check('`product(id)` warm vs response-cache peer', '≥ 0.9×', ratio(results, 'product', 'rps', 'freshgraph', 'response-cache'), (v) => v >= 0.9);
  check('`products(ids)` warm vs `CACHE_MODE=off`', '≥ 1.5×', ratio(results, 'products', 'rps', 'freshgraph', 'cache-off'), (v) => v >= 1.5);
  check('mutation p50, 32 connections, vs `CACHE_MODE=off`', '≤ 1.15×', ratio(results, 'mutation', 'p50', 'freshgraph', 'cache-off'), (v) => v <= 1.15);
  check('mutation p50, 1 connection, vs `CACHE_MODE=off`', 'reported', ratio(results, 'mutation1', 'p50', 'freshgraph', 'cache-off'), () => true);
  // Issue 10: the entity redesign must keep these within the noise of the run before it.
  check('`product(id)` warm vs plain-apollo (issue 10)', 'reported', ratio(results, 'product', 'rps', 'freshgraph', 'plain-apollo'), () => true);
  check('`products(ids)` warm vs plain-apollo (issue 10)', 'reported', ratio(results, 'products', 'rps', 'freshgraph', 'plain-apollo'), () => true);
  // Issue 19: writes at the price of a plain UPDATE.
  check('`adjustStock` req/s, 32 connections, vs plain-apollo (issue 19)', '≥ 1.0×', ratio(results, 'mutation', 'rps', 'freshgraph', 'plain-apollo'), (v) => v >= 1);
  check('`adjustStock` p50, 1 connection, vs plain-apollo (issue 19)', '≤ 1.2×', ratio(results, 'mutation1', 'p50', 'freshgraph', 'plain-apollo'), (v) => v <= 1.2);
  // The lists issue: warm list reads, and placeOrder against a plain Apollo doing the same SQL without a cache (performance issue).
  check('warm list reads (`orders(first: 10)`) vs plain-apollo (lists)', '≥ 3×', ratio(results, 'list', 'rps', 'freshgraph', 'plain-apollo'), (v) => v >= 3);
  check('`placeOrder` req/s, 32 connections, vs plain-apollo', 'reported', ratio(results, 'order', 'rps', 'freshgraph', 'plain-apollo'), () => true);
  check('`placeOrder` p50, 32 connections, vs plain-apollo', 'reported', ratio(results, 'order', 'p50', 'freshgraph', 'plain-apollo'), () => true);
  check('`createProduct` req/s, 32 connections, vs plain-apollo', 'reported', ratio(results, 'create', 'rps', 'freshgraph', 'plain-apollo'), () => true);
  check('`createProduct` p50, 32 connections, vs plain-apollo', 'reported', ratio(results, 'create', 'p50', 'freshgraph', 'plain-apollo'), () => true);
  check('`categorize` req/s, 32 connections, vs plain-apollo', 'reported', ratio(results, 'categorize', 'rps', 'freshgraph', 'plain-apollo'), () => true);
  check('`categorize` p50, 32 connections, vs plain-apollo', 'reported', ratio(results, 'categorize', 'p50', 'freshgraph', 'plain-apollo'), () => true);
  for (const data of ['products', 'lists'] as const) {
    let stale = 0;
    let reads = 0;
    for (const [workload, byConfig] of results) {
      const s = byConfig.get('freshgraph');
      if (s && workloadSpec(workload, 1, 1).data === data) {
        stale += s.staleReads;
        reads += s.checkedReads;
      }
    }
    const what = data === 'lists' ? 'freshgraph stale lists (list mixed workload)' : 'freshgraph stale reads (mixed workloads)';
    if (reads > 0) out.push({ what, goal: '0', measured: `${stale} of ${int(reads)}`, met: stale === 0 });
  }
  return out;
}

/** Per configuration, the stale lists of the list mixed workloads: the count the lists issue asks for. */
function staleListTable(results: Map<WorkloadName, Map<ConfigurationName, Summary>>, batch: number, connections: number): string | undefined {
  const lines = ['| workload | configuration | stale lists | reads checked | share |', '|---|---|---:|---:|---:|'];
  for (const [workload, byConfig] of results) {
    const spec = workloadSpec(workload, connections, batch);
    if (spec.data !== 'lists' || spec.driver !== 'mixed') continue;
    for (const [config, s] of byConfig) {
      if (s.checkedReads === 0) continue;
      lines.push(`| ${spec.title} | ${config} | ${int(s.staleReads)} | ${int(s.checkedReads)} | ${pct(s.staleReads / s.checkedReads)} |`);
    }
  }
  return lines.length > 2 ? lines.join('\n') : undefined;
}

/** The results table, one row per workload and configuration. */
function table(results: Map<WorkloadName, Map<ConfigurationName, Summary>>, batch: number, connections: number): string {
  const lines = [
    '| workload | configuration | req/s | p50 ms | p99 ms | errors | cache hit ratio | SQL / req | Redis cmds / req | server CPU µs / req | load generator CPU µs / req | RSS MB | stale reads (lists) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [workload, byConfig] of results) {
    const spec = workloadSpec(workload, connections, batch);
    for (const [config, s] of byConfig) {
      const stale = s.checkedReads > 0 ? `${s.staleReads} / ${int(s.checkedReads)} (${pct(s.staleReads / s.checkedReads)})` : 'n/a';
      lines.push(
        `| ${spec.title} | ${config} | ${int(s.rps)} | ${fixed(s.p50)} | ${fixed(s.p99)} | ${s.errors} | ${pct(s.hitRatio)} | ${fixed(s.sqlPerRequest)} | ${fixed(s.redisPerRequest)} | ${int(s.cpuUsPerRequest)} | ${int(s.generatorUsPerRequest)} | ${fixed(s.rssMb, 0)} | ${stale} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The cluster's figures divided by one Redis's, per workload that ran both. */
export interface ClusterRatio {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

export function clusterRatios(results: Map<WorkloadName, Map<ConfigurationName, Summary>>): Map<WorkloadName, ClusterRatio> {
  const out = new Map<WorkloadName, ClusterRatio>();
  for (const [workload, byConfig] of results) {
    const one = byConfig.get('freshgraph');
    const cluster = byConfig.get('freshgraph-cluster');
    if (one && cluster) out.set(workload, { rps: cluster.rps / one.rps, p50: cluster.p50 / one.p50, p99: cluster.p99 / one.p99 });
  }
  return out;
}

/** `--cluster`'s own section: one Redis and the cluster side by side, with what the probe saw. */
function clusterSection(results: Map<WorkloadName, Map<ConfigurationName, Summary>>, batch: number, connections: number): { markdown: string[]; table: string } | undefined {
  const r = clusterRatios(results);
  if (r.size === 0) return undefined;
  const pair = (a: number, b: number, format: (n: number) => string) => `${format(a)} / ${format(b)}`;
  const lines = [
    '| workload | req/s | p50 ms | p99 ms | cluster ÷ one Redis: req/s (p50, p99) | Redis round trips / req | Redis cmds / req | server CPU µs / req | Redis CPU µs / req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [workload, x] of r) {
    const one = results.get(workload)?.get('freshgraph') as Summary;
    const cluster = results.get(workload)?.get('freshgraph-cluster') as Summary;
    lines.push(
      `| ${workloadSpec(workload, connections, batch).title} | ${pair(one.rps, cluster.rps, int)} | ${pair(one.p50, cluster.p50, fixed)} | ${pair(one.p99, cluster.p99, fixed)} | ` +
        `${fixed(x.rps)}× (p50 ${fixed(x.p50)}×, p99 ${fixed(x.p99)}×) | ${pair(one.roundTripsPerRequest, cluster.roundTripsPerRequest, fixed)} | ` +
        `${pair(one.redisPerRequest, cluster.redisPerRequest, fixed)} | ${pair(one.cpuUsPerRequest, cluster.cpuUsPerRequest, int)} | ${pair(one.redisCpuUsPerRequest, cluster.redisCpuUsPerRequest, int)} |`,
    );
  }
  const table = lines.join('\n');
  return {
    table,
    markdown: [
      '## Redis Cluster against one Redis',
      '',
      'The same freshgraph build on the same data (each its own copy), driven with the same seeded request streams in interleaved rounds. ' +
        '**one Redis** (`freshgraph`, `REDIS_URL`): a redis-server the bench started for this run. **Redis Cluster** (`freshgraph-cluster`, `REDIS_CLUSTER_NODES`): ' +
        'six redis-server processes the bench started, three masters with one replica each (`cluster-node-timeout 2000`); every write-through waits for ' +
        'one replica (`WAIT 1 100`, the defaults of `REDIS_CLUSTER_WAIT_REPLICAS` and `REDIS_CLUSTER_WAIT_TIMEOUT_MS`). Same binary, same settings ' +
        '(no persistence), same loopback and the same cores: the cluster\'s six processes share them with everything else, so this shows what the ' +
        'cluster protocol costs a request, not what more machines would add.',
      '',
      'Each cell is one Redis / the cluster.',
      '',
      table,
      '',
      '- **cluster ÷ one Redis**: the cluster\'s req/s divided by one Redis\'s (below 1×: the cluster serves fewer), and its p50 and p99 divided by one Redis\'s (above 1×: the cluster answers later).',
      '- **Redis round trips / req**: writes to a Redis connection that were answered, counted in the server by `bench/probe.ts`, per response. A pipeline counts one ' +
        'for each node it goes to: a batch on the cluster goes to its three masters at once, so three there cost the wait of one. A command sent alone counts one. ' +
        'Below 1 on one Redis: ioredis\' auto-pipelining sends the commands of concurrent requests in one write.',
      '- **Redis cmds / req**: one `MGET` per batch on one Redis, one `GET` per key on the cluster (a command may not span slots); a mutation\'s write-through is one script call, plus a `WAIT` on the cluster (shared by the mutations that go out together).',
      '- **Redis CPU µs / req**: user + system CPU of the Redis processes (`INFO cpu`) over the round, per response; for the cluster the sum over its six nodes (replicas apply every write too).',
      '',
    ],
  };
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A self-contained SVG: one row per workload, three panels (req/s, p50, p99),
 * one bar per configuration with its value written on it.
 */
export function chart(results: Map<WorkloadName, Map<ConfigurationName, Summary>>, batch: number, connections: number, title: string): string {
  const panelW = 300;
  const labelW = 250;
  const barH = 16;
  const gap = 4;
  const metrics = [
    { key: 'rps' as const, label: 'requests/s (higher is better)', format: int },
    { key: 'p50' as const, label: 'p50 latency, ms', format: (n: number) => fixed(n) },
    { key: 'p99' as const, label: 'p99 latency, ms', format: (n: number) => fixed(n) },
  ];
  const configs = [...new Set([...results.values()].flatMap((m) => [...m.keys()]))];
  const rowH = configs.length * (barH + gap) + 26;
  const top = 64;
  const width = labelW + metrics.length * (panelW + 20) + 10;
  const height = top + results.size * rowH + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="600">${escapeXml(title)}</text>`,
  ];
  configs.forEach((c, i) => {
    const x = 10 + i * 170;
    parts.push(`<rect x="${x}" y="32" width="12" height="12" fill="${CONFIGURATION[c].color}"/><text x="${x + 17}" y="42">${c}</text>`);
  });
  metrics.forEach((m, j) => {
    parts.push(`<text x="${labelW + j * (panelW + 20)}" y="${top - 6}" font-weight="600">${m.label}</text>`);
  });
  [...results.entries()].forEach(([workload, byConfig], r) => {
    const y0 = top + r * rowH;
    const titleText = workloadSpec(workload, connections, batch).title.replace(/`/g, '');
    parts.push(`<line x1="10" x2="${width - 10}" y1="${y0}" y2="${y0}" stroke="#e0e0e0"/>`);
    wrap(titleText, 30).forEach((line, i) => parts.push(`<text x="10" y="${y0 + 18 + i * 15}" font-weight="600">${escapeXml(line)}</text>`));
    metrics.forEach((m, j) => {
      const values = configs.map((c) => byConfig.get(c)?.[m.key] ?? Number.NaN);
      // The scale is set by the servers that do the work: the ceiling's bar, when longer, is cut and marked.
      const scaled = values.filter((v, i) => Number.isFinite(v) && configs[i] !== 'http-ceiling');
      const max = Math.max(...(scaled.length > 0 ? scaled : values.filter(Number.isFinite)), 1e-9);
      const full = panelW - 70;
      const x0 = labelW + j * (panelW + 20);
      configs.forEach((c, i) => {
        const v = values[i] as number;
        const y = y0 + 8 + i * (barH + gap);
        const cut = Number.isFinite(v) && v > max * 1.1;
        const w = Number.isFinite(v) ? Math.max(1, (Math.min(v, max * 1.1) / max) * full) : 0;
        parts.push(`<rect x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${CONFIGURATION[c].color}"><title>${c}: ${m.format(v)}</title></rect>`);
        if (cut) {
          // A break mark, and the value inside the bar: beside it, it would run into the next panel.
          parts.push(`<path d="M${(x0 + w - 14).toFixed(1)} ${y + barH} l6 ${-barH} m4 0 l-6 ${barH}" stroke="#ffffff" stroke-width="3"/>`);
          parts.push(`<text x="${(x0 + w - 20).toFixed(1)}" y="${y + barH - 4}" text-anchor="end">${m.format(v)}</text>`);
        } else parts.push(`<text x="${(x0 + w + 4).toFixed(1)}" y="${y + barH - 4}">${m.format(v)}</text>`);
      });
    });
  });
  parts.push(
    `<text x="10" y="${height - 10}" fill="#666">medians of interleaved rounds; same seeded request stream for every configuration${configs.includes('http-ceiling') ? '; a bar with a break mark is longer than drawn' : ''}</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}

/** Greedy word wrap into at most three lines. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && (line + ' ' + word).length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.slice(0, 3);
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}

export function writeReport(
  dir: string,
  info: RunInfo,
  cells: Map<WorkloadName, Map<ConfigurationName, Cell>>,
  soak: readonly SoakSample[],
): { markdown: string; chart: string; table: string } {
  mkdirSync(dir, { recursive: true });
  // A soak report is named apart from workload reports, so that neither hides the other in bench/results.
  const o = info.options;
  const name = `${soak.length > 0 && cells.size === 0 ? 'soak-' : o.cluster ? 'cluster-' : ''}${stamp(info.startedAt)}`;
  const summaries = new Map([...cells].map(([w, byConfig]) => [w, new Map([...byConfig].map(([c, cell]) => [c, summarize(cell)]))]));
  const md: string[] = [
    `# freshgraph benchmark, ${info.startedAt.toISOString()}`,
    '',
    `Command: \`${info.command}\`${o.note ? `  \nNote: ${o.note}` : ''}`,
    '',
    `Machine: ${info.cpus}, Node ${info.node}, Postgres ${info.postgres}, Redis ${info.redis}; load average ${info.loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${info.loadAfter.map((l) => l.toFixed(2)).join(' ')} after. ` +
      'Server, load generator, Postgres and Redis share these cores (and, while this ran, other people\'s test suites did too): compare ratios within this run, not absolute figures across runs.',
    '',
  ];
  let tableText = '';
  let chartPath = '';
  if (summaries.size > 0) {
    md.push(
      `Data: ${int(o.products)} products (Zipf exponent ${o.zipf} over id rank)` +
        (o.accounts > 0 && o.workloads.some((w) => workloadSpec(w, 1, 1).data === 'lists') ? `, ${int(o.accounts)} accounts with max(1, 5000 / rank) orders each (Zipf exponent ${o.zipf} over account rank for reads and the mixed workload's orders; uniform accounts for \`placeOrder\` alone)` : '') +
        `. ${o.connections} connections (1 for the one-connection mutation row), ` +
        `${fmtSeconds(o.warmup)} warm-up then ${o.rounds} interleaved round(s) of ${fmtSeconds(o.duration)} per workload and configuration; req/s, p50 and p99 are medians over rounds. ` +
        `Before each reading workload ${o.cluster ? 'each freshgraph' : "freshgraph's"} cache was emptied and every product (every account's first page of orders, for the list workloads) read once through it (so "warm" is warm; keys live 300 s)` +
        (o.configurations.includes('response-cache')
          ? ', and before `product(id)` and each list workload every request it can send (one per product, one per account) was sent once to the response-cache peer (its cache holds whole operations).'
          : '.'),
      '',
      'Configurations, each its own process on loopback (those with data each read their own copy of the same data set; before measuring, the bench checked that they answer a sample of requests with the same bytes):',
      '',
      ...[...new Set([...summaries.values()].flatMap((m) => [...m.keys()]))].map((c) => `- **${c}**: ${CONFIGURATION[c].summary}`),
      '',
    );
    tableText = table(summaries, o.batch, o.connections);
    md.push('## Results', '', tableText, '');
    const r = ratios(summaries);
    const ratioText = ratioTable(r, o.batch, o.connections);
    if (ratioText !== undefined) {
      md.push(
        '## freshgraph against each configuration',
        '',
        "freshgraph's req/s divided by the other configuration's (above 1×: freshgraph serves more), and in brackets its p50 latency divided by theirs " +
          '(below 1×: freshgraph answers sooner); for the mutation rows the p50 is the figure that matters. The share of http-ceiling is freshgraph\'s req/s ' +
          'against a bare node:http server that sends one fixed `product(id)` body to every request (for the 100-row workloads it sends that small body too, ' +
          'so the ceiling is a loose one there).',
        '',
        ratioText,
        '',
      );
      tableText += `\n\n${ratioText}`;
    }
    const cluster = clusterSection(summaries, o.batch, o.connections);
    if (cluster !== undefined) {
      md.push(...cluster.markdown);
      tableText += `\n\n${cluster.table}`;
    }
    const staleLists = staleListTable(summaries, o.batch, o.connections);
    if (staleLists !== undefined) {
      md.push(
        '## Stale lists',
        '',
        'Every read of the list mixed workload is checked against the orders whose `placeOrder` had been acknowledged to the load generator before the read was sent ' +
          '(see "How each column is measured"). Each configuration has its own copy of the data set, so no server\'s orders bypass another\'s cache.',
        '',
        staleLists,
        '',
      );
      tableText += `\n\n${staleLists}`;
    }
    const t = targets(summaries);
    if (t.length > 0) {
      md.push('## Targets (issues 5 and 10, lists)', '', '| target | goal | measured | met |', '|---|---|---:|---|');
      for (const x of t) md.push(`| ${x.what} | ${x.goal} | ${x.measured} | ${x.met === undefined ? '' : x.met ? 'yes' : '**no**'} |`);
      md.push('');
      tableText += `\n\n${t.map((x) => `${x.met ? 'met ' : 'MISSED'}  ${x.what.replace(/`/g, '')}: ${x.measured} (goal ${x.goal})`).join('\n')}`;
    }
    writeFileSync(
      join(dir, `${name}.json`),
      JSON.stringify(
        {
          info: { ...info, options: o },
          summaries: Object.fromEntries([...summaries].map(([w, m]) => [w, Object.fromEntries(m)])),
          ratios: Object.fromEntries(ratios(summaries)),
          ...(o.cluster ? { clusterOverOneRedis: Object.fromEntries(clusterRatios(summaries)) } : {}),
        },
        null,
        1,
      ),
    );
    const svg = chart(summaries, o.batch, o.connections, `freshgraph ${o.cluster ? 'on one Redis and on a Redis Cluster' : 'benchmark'} ${info.startedAt.toISOString().slice(0, 16).replace('T', ' ')} (${int(o.products)} products, ${o.connections} connections)`);
    chartPath = join(dir, `${name}.svg`);
    writeFileSync(chartPath, svg);
    md.push(`![throughput and latency per configuration](${name}.svg)`, '');
  }
  if (soak.length > 0) {
    const last = soak[soak.length - 1] as SoakSample;
    // The warm-up (500-id reads, 32 at a time) is not the mixed load: the peak is taken over the soak itself.
    const peak = Math.max(...soak.slice(1).map((s) => s.rss), last.rss) / 2 ** 20;
    const stale = soak.reduce((a, s) => a + s.stale, 0);
    const reads = soak.reduce((a, s) => a + s.reads, 0);
    md.push(
      '## Memory soak',
      '',
      `${fmtSeconds(o.soakMinutes * 60)} of mixed load (80 % \`product(id)\` on uniformly drawn ids, 20 % \`adjustStock\`), ${o.connections} connections, ` +
        `${int(soak[0]?.keys ?? Number.NaN)} keys of this server in Redis at the start and ${int(last.keys)} at the end.`,
      '',
      `RSS after the soak: **${(last.rss / 2 ** 20).toFixed(0)} MB** (peak during the mixed load ${peak.toFixed(0)} MB; target < 250 MB: ${last.rss / 2 ** 20 < 250 ? 'met' : '**missed**'}). ` +
        `Stale reads: ${stale} of ${int(reads)}. The TTL was raised for this run (CACHE_TTL_SECONDS ≥ 3600) so the keys outlive it; freshness never depends on the TTL.`,
      '',
      '| minute | RSS MB | V8 heap used / reserved MB | req/s | stale reads | errors |',
      '|---:|---:|---:|---:|---:|---:|',
      ...soak.map(
        (s) =>
          `| ${s.minute.toFixed(1)} | ${(s.rss / 2 ** 20).toFixed(0)} | ${(s.heapUsed / 2 ** 20).toFixed(0)} / ${(s.heapTotal / 2 ** 20).toFixed(0)} | ${int(s.rps)} | ${s.stale} | ${s.errors} |`,
      ),
      '',
    );
    tableText = `soak: RSS ${(last.rss / 2 ** 20).toFixed(0)} MB at the end, peak ${peak.toFixed(0)} MB, stale ${stale}/${reads}\n`;
  }
  md.push(
    '## How each column is measured',
    '',
    '- **req/s, p50, p99**: responses received by the load generator (autocannon for fixed request shapes; an undici loop for the mixed workloads), latency of every response.',
    '- **errors**: non-2xx responses, responses with GraphQL `errors`, and connection errors.',
    '- **cache hit ratio**: non-null values among the replies to the server\'s Redis `MGET`/`GET` commands, counted inside the server process by `bench/probe.ts`. For freshgraph a hit is one entity key; for the response-cache peer a hit is one whole response.',
    '- **SQL / req**: statements sent by the server through node-postgres (BEGIN and COMMIT count), per response. **Redis cmds / req**: commands sent by the server through ioredis (an `MGET` of 100 keys and an `EVALSHA` count one each), per response.',
    '- **server CPU µs / req**: the server process\'s CPU time (user + system, from `process.cpuUsage()` in the probe) over the round, per response. Less sensitive than req/s to what else the machine is running, because it counts only the time the server actually ran. **Load generator CPU** is the same for the bench process itself: it runs on the same two cores.',
    '- **RSS**: the server\'s VmRSS from /proc/<pid>/status read after each round of the workload; the highest reading is shown.',
    '- **stale reads**: reads that returned a version lower than one a mutation response had already delivered to the load generator when the read was sent (checked on every read of the mixed workloads; each configuration has its own copy of the data set so no server\'s writes bypass another\'s cache).',
    '- **stale lists** (the list mixed workload, in the same column): reads of an account\'s first 10 orders (newest first) with `totalCount` that miss an order whose `placeOrder` was acknowledged before the read was sent and that belongs in those 10 (it is newer than the 10th order returned, or fewer than 10 came back), or whose `totalCount` is below the count acknowledged before the read was sent (the account\'s orders in the database when the workload began, plus those acknowledged since). ' +
      '"Newer" is decided without reading `createdAt` in the list: orders from before the workload are older than every one it placed; of two it placed, one acknowledged before the other was sent is older; else their `createdAt` (milliseconds) decide, and equal milliseconds count as not stale. An account whose `placeOrder` failed is no longer checked (what it holds is unknown; such failures are errors).',
    '',
  );
  const markdown = join(dir, `${name}.md`);
  writeFileSync(markdown, md.join('\n'));
  return { markdown: relative(process.cwd(), markdown), chart: chartPath && relative(process.cwd(), chartPath), table: tableText };
}

function fmtSeconds(s: number): string {
  return s >= 60 ? `${(s / 60).toFixed(s % 60 === 0 ? 0 : 1)} min` : `${s} s`;
}
