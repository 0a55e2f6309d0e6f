import autocannon from 'autocannon';
import { Pool } from 'undici';
import { quantile } from './random.js';
import type { RequestFactory } from './workloads.js';
import type { WorkloadName } from './options.js';

export interface RunResult {
  /** Responses received. */
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p99: number;
  /** Non-2xx responses, GraphQL errors in a 2xx response, and connection errors. */
  readonly errors: number;
  /** Reads checked for staleness and how many were stale (mixed workloads only). */
  readonly checkedReads: number;
  readonly staleReads: number;
  /** Writes in a mixed workload, with their own latency. */
  readonly writes: number;
  readonly writeP50: number;
  /** CPU time of the load generator (this process) while it ran, microseconds. */
  readonly generatorCpuUs: number;
}

const cpuSince = (start: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(start);
  return used.user + used.system;
};

/** Growable list of latencies in ms. */
class Latencies {
  private values = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = v;
  }
  sorted(): Float64Array {
    return this.values.slice(0, this.length).sort();
  }
}

/** Distinct request bodies drawn per round: enough that no connection repeats one within a round. */
function poolSize(workload: WorkloadName): number {
  if (workload === 'products' || workload === 'entities') return 8_192;
  if (workload === 'mutation') return 16_384;
  if (workload === 'mutation1') return 4_096;
  return 65_536;
}

/**
 * A fixed-shape workload through autocannon. The bodies are drawn from the
 * seeded factory before the round and split among the connections, so
 * autocannon encodes each request once and the load generator spends its CPU on
 * HTTP, not on building requests (it shares two cores with the server). The
 * bodies are not read here (the server-side probe counts GraphQL errors). The
 * latency of every response is recorded (autocannon's own histogram has 1 ms
 * resolution, too coarse for a mutation at one connection).
 */
export async function runAutocannon(
  url: string,
  workload: WorkloadName,
  factory: RequestFactory,
  batch: number,
  connections: number,
  seconds: number,
): Promise<RunResult> {
  const latencies = new Latencies();
  const headers = { 'content-type': 'application/json' };
  const requests: autocannon.Request[] = Array.from({ length: poolSize(workload) }, () => ({
    method: 'POST',
    headers,
    body: factory.next(workload, batch),
  }));
  let client = 0;
  const cpu = process.cpuUsage();
  const instance = autocannon({
    url,
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 30,
    requests: requests.slice(0, 1),
    setupClient: (c) => {
      const i = client++ % connections;
      const from = Math.floor((i * requests.length) / connections);
      const to = Math.floor(((i + 1) * requests.length) / connections);
      c.setRequests(requests.slice(from, Math.max(to, from + 1)));
    },
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
  const result = await instance;
  const generatorCpuUs = cpuSince(cpu);
  const sorted = latencies.sorted();
  return {
    requests: sorted.length,
    seconds: result.duration,
    rps: sorted.length / result.duration,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    // GraphQL errors in 2xx responses are counted by the probe in the server (see run.ts).
    errors: result.non2xx + result.errors,
    checkedReads: 0,
    staleReads: 0,
    writes: workload.startsWith('mutation') ? sorted.length : 0,
    writeP50: workload.startsWith('mutation') ? quantile(sorted, 0.5) : Number.NaN,
    generatorCpuUs,
  };
}

/**
 * What the load generator saw acknowledged, per id rank: the highest version
 * any adjustStock response returned. Kept per configuration across rounds.
 */
export class AckedVersions {
  readonly byRank: Int32Array;
  constructor(n: number) {
    this.byRank = new Int32Array(n);
  }
}

/**
 * Reads and adjustStock mutations from `connections` loops over undici. Every
 * read is checked: it is stale when it returns a version lower than one that a
 * mutation response had already delivered to this process when the read was
 * sent. (JavaScript runs one callback at a time, so "acknowledged before the
 * read began" is exactly "recorded before the read was issued".)
 */
export async function runMixed(
  url: string,
  factory: RequestFactory,
  writeShare: number,
  connections: number,
  seconds: number,
  acked: AckedVersions,
  random: () => number,
): Promise<RunResult> {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const reads = new Latencies();
  const writes = new Latencies();
  let errors = 0;
  let stale = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const deadline = started + seconds * 1000;
  const headers = { 'content-type': 'application/json' };

  const loop = async () => {
    while (performance.now() < deadline) {
      const isWrite = random() < writeShare;
      // Writes follow the same popularity as reads: hot rows are the ones a stale cache would show.
      const rank = factory.zipfRank();
      const body = isWrite ? factory.adjustStock(rank) : factory.product(rank);
      const required = acked.byRank[rank] as number;
      const t0 = performance.now();
      let text: string;
      let status: number;
      try {
        const res = await pool.request({ origin, path: pathname, method: 'POST', headers, body });
        status = res.statusCode;
        text = await res.body.text();
      } catch {
        errors++;
        continue;
      }
      const ms = performance.now() - t0;
      (isWrite ? writes : reads).push(ms);
      let parsed: { data?: Record<string, { version?: number } | null>; errors?: unknown[] };
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        errors++;
        continue;
      }
      if (status < 200 || status >= 300 || parsed.errors) {
        errors++;
        continue;
      }
      if (isWrite) {
        const version = parsed.data?.['adjustStock']?.version ?? 0;
        if (version > (acked.byRank[rank] as number)) acked.byRank[rank] = version;
      } else {
        const version = parsed.data?.['product']?.version ?? 0;
        if (version < required) stale++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const generatorCpuUs = cpuSince(cpu);
  await pool.close();
  const readSorted = reads.sorted();
  const writeSorted = writes.sorted();
  const all = new Float64Array(readSorted.length + writeSorted.length);
  all.set(readSorted);
  all.set(writeSorted, readSorted.length);
  all.sort();
  return {
    requests: all.length,
    seconds: elapsed,
    rps: all.length / elapsed,
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    errors,
    checkedReads: readSorted.length,
    staleReads: stale,
    writes: writeSorted.length,
    writeP50: quantile(writeSorted, 0.5),
    generatorCpuUs,
  };
}

/** Sends each body once, `connections` at a time (cache pre-warming); returns failures. */
export async function sendAll(url: string, bodies: Iterable<string>, connections: number): Promise<number> {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections, pipelining: 1 });
  const iterator = bodies[Symbol.iterator]();
  let failures = 0;
  const loop = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      try {
        const res = await pool.request({ origin, path: pathname, method: 'POST', headers: { 'content-type': 'application/json' }, body: next.value });
        const text = await res.body.text();
        if (res.statusCode !== 200 || text.includes('"errors"')) failures++;
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  await pool.close();
  return failures;
}
