import autocannon from 'autocannon';
import { Pool } from 'undici';
import { quantile } from './random.js';
import type { AckedOrders, AckedVersions } from './freshness.js';
import type { WorkloadName } from './options.js';
import { workloadSpec, type RequestFactory } from './workloads.js';

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
  /** Reads checked for staleness and how many were stale (mixed workloads only; on lists, stale lists). */
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
  if (workload === 'mutation' || workload === 'order' || workload === 'create' || workload === 'categorize') return 16_384;
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
  const isWrite = workloadSpec(workload, connections, batch).writeShare === 1;
  const headers = { 'content-type': 'application/json' };
  // autocannon builds every request up front, inside the round: a short round (--quick, the smoke test) gets a smaller pool.
  const size = Math.min(poolSize(workload), Math.max(1024, Math.ceil(seconds * 16_384)));
  const requests: autocannon.Request[] = Array.from({ length: size }, () => ({
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
    writes: isWrite ? sorted.length : 0,
    writeP50: isWrite ? quantile(sorted, 0.5) : Number.NaN,
    generatorCpuUs,
  };
}

/** One request of a mixed workload, and what to make of its answer. */
export interface MixedRequest {
  readonly body: string;
  readonly isWrite: boolean;
  /**
   * The parsed `data` of a 2xx answer without errors, with when the request was sent and answered:
   * a write records what it acknowledged, a read says whether it was stale (`unchecked`: not judged).
   */
  settle(data: Readonly<Record<string, unknown>> | undefined, sentAt: number, ackedAt: number): 'fresh' | 'stale' | 'unchecked';
  /** No usable answer: a write may or may not have committed. */
  failed(): void;
}

/** Draws the requests of a mixed workload: a write when `isWrite`, else a read. */
export type MixedTraffic = (isWrite: boolean) => MixedRequest;

const field = (data: Readonly<Record<string, unknown>> | undefined, name: string): Readonly<Record<string, unknown>> | undefined => {
  const value = data?.[name];
  return typeof value === 'object' && value !== null ? (value as Readonly<Record<string, unknown>>) : undefined;
};

/**
 * `product(id)` and `adjustStock` on Zipf ranks (writes follow the same
 * popularity as reads: hot rows are the ones a stale cache would show). A read
 * is stale when it returns a lower version than the highest an adjustStock
 * response had delivered when it was sent.
 */
export function productTraffic(factory: RequestFactory, acked: AckedVersions): MixedTraffic {
  return (isWrite) => {
    const rank = factory.zipfRank();
    const required = acked.byRank[rank] as number;
    return {
      body: isWrite ? factory.adjustStock(rank) : factory.product(rank),
      isWrite,
      settle: (data) => {
        if (isWrite) {
          const version = Number(field(data, 'adjustStock')?.['version'] ?? 0);
          if (version > (acked.byRank[rank] as number)) acked.byRank[rank] = version;
          return 'unchecked';
        }
        return Number(field(data, 'product')?.['version'] ?? 0) < required ? 'stale' : 'fresh';
      },
      failed: () => {},
    };
  };
}

/**
 * An account's first ten orders with totalCount, and placeOrder, both on Zipf
 * accounts. A read is checked against the orders acknowledged before it was
 * sent (AckedOrders: a stale list misses one that belongs in its first ten, or
 * counts fewer than were acknowledged).
 */
export function listTraffic(factory: RequestFactory, acked: AckedOrders): MixedTraffic {
  return (isWrite) => {
    const rank = factory.accountZipfRank();
    const before = acked.acknowledged(rank);
    return {
      body: isWrite ? factory.placeOrder(rank) : factory.accountOrders(rank, true),
      isWrite,
      settle: (data, sentAt, ackedAt) => {
        if (isWrite) {
          const order = field(data, 'placeOrder');
          const id = order?.['id'];
          const createdAt = Date.parse(String(order?.['createdAt']));
          if (typeof id === 'string' && Number.isFinite(createdAt)) acked.record(rank, { id, createdAtMs: createdAt, sentAt, ackedAt });
          else acked.forget(rank);
          return 'unchecked';
        }
        const orders = field(field(data, 'account'), 'orders');
        const nodes = orders?.['nodes'];
        const ids = Array.isArray(nodes) ? nodes.map((n) => String((n as Record<string, unknown>)?.['id'])) : [];
        const verdict = acked.check(rank, before, Number(orders?.['totalCount'] ?? -1), ids);
        return verdict === 'unchecked' ? 'unchecked' : verdict === 'fresh' ? 'fresh' : 'stale';
      },
      failed: () => {
        if (isWrite) acked.forget(rank);
      },
    };
  };
}

/**
 * Reads and writes from `connections` loops over undici, each request drawn
 * from `traffic` (a write with probability `writeShare`) and every answer
 * judged by it: writes record what they acknowledged, reads are checked
 * against what had been acknowledged when they were sent.
 */
export async function runMixed(
  url: string,
  traffic: MixedTraffic,
  writeShare: number,
  connections: number,
  seconds: number,
  random: () => number,
): Promise<RunResult> {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const reads = new Latencies();
  const writes = new Latencies();
  let errors = 0;
  let checked = 0;
  let stale = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const deadline = started + seconds * 1000;
  const headers = { 'content-type': 'application/json' };

  const loop = async () => {
    while (performance.now() < deadline) {
      const request = traffic(random() < writeShare);
      const t0 = performance.now();
      let text: string;
      let status: number;
      try {
        const res = await pool.request({ origin, path: pathname, method: 'POST', headers, body: request.body });
        status = res.statusCode;
        text = await res.body.text();
      } catch {
        errors++;
        request.failed();
        continue;
      }
      const t1 = performance.now();
      (request.isWrite ? writes : reads).push(t1 - t0);
      let parsed: { data?: Record<string, unknown>; errors?: unknown[] };
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        errors++;
        request.failed();
        continue;
      }
      if (status < 200 || status >= 300 || parsed.errors) {
        errors++;
        request.failed();
        continue;
      }
      const verdict = request.settle(parsed.data, t0, t1);
      if (verdict !== 'unchecked') checked++;
      if (verdict === 'stale') stale++;
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
    checkedReads: checked,
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
