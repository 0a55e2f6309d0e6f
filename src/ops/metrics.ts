import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheEngine, StoreOp } from '../cache/engine.js';
import type { CacheCounters } from '../cache/stats.js';
import type { LocalCopyState } from '../cache/tracking-store.js';
import { WriteShareWindow } from './write-share.js';

/**
 * The engine's process-wide counters, exported as Prometheus counters read at
 * scrape time (collect callbacks), so the engine stays free of prom-client.
 * A counter added to CacheCounters needs one line here to be exported.
 */
const CACHE_COUNTERS: readonly { field: keyof CacheCounters; name: string; help: string }[] = [
  { field: 'hits', name: 'freshgraph_cache_hits_total', help: 'Entity reads answered by the cache' },
  { field: 'misses', name: 'freshgraph_cache_misses_total', help: 'Entity reads the cache could not answer' },
  { field: 'earlyRefreshes', name: 'freshgraph_cache_early_refreshes_total', help: 'Keys reloaded before expiry by probabilistic early refresh (XFetch)' },
  { field: 'writeRetries', name: 'freshgraph_cache_write_retries_total', help: 'Retries of a failed write-through after a commit' },
  { field: 'writeFailures', name: 'freshgraph_cache_write_failures_total', help: 'Write-throughs given up after all retries (entries stale until TTL or repair)' },
  { field: 'readFailures', name: 'freshgraph_cache_read_failures_total', help: 'Cache reads that failed and were served from Postgres' },
  { field: 'fillFailures', name: 'freshgraph_cache_fill_failures_total', help: 'Backfills after a miss that did not reach the cache' },
  { field: 'invalidValues', name: 'freshgraph_cache_invalid_values_total', help: 'Stored values that were not envelopes (treated as misses)' },
  { field: 'otherShapes', name: 'freshgraph_cache_other_shape_total', help: 'Values written for another shape of their type (a deploy that changes it, under way), read as misses' },
  { field: 'distrustedValues', name: 'freshgraph_cache_distrusted_values_total', help: 'Envelopes written before Redis came back with older data (a restart from a snapshot, a failover), treated as misses' },
  { field: 'singleFlightJoins', name: 'freshgraph_cache_single_flight_joins_total', help: 'Misses that shared a database load already in flight' },
  { field: 'sourceLoads', name: 'freshgraph_cache_source_loads_total', help: 'Batched loads from Postgres on behalf of the cache' },
  { field: 'leaseLost', name: 'freshgraph_cache_lease_lost_total', help: 'Fills refused because a write cancelled their lease (or it expired): stale sets stopped' },
  { field: 'leaseWaits', name: 'freshgraph_cache_lease_waits_total', help: 'Times a reader waited for another reader\'s fill instead of loading' },
  { field: 'fallbacks', name: 'freshgraph_cache_fallbacks_total', help: 'Misses served from Postgres without a fill (cache unreadable or untrusted for the key, or the lease wait ran out)' },
  { field: 'breakerRejections', name: 'freshgraph_cache_breaker_rejections_total', help: 'Cache calls skipped because the circuit breaker was open' },
  { field: 'repairs', name: 'freshgraph_cache_repairs_total', help: 'Outbox rows whose cache write the repair worker replayed' },
  { field: 'outboxRejects', name: 'freshgraph_cache_outbox_rejected_total', help: 'Outbox rows this instance could not apply and set aside in cache_outbox_rejected' },
  { field: 'consistencySamples', name: 'freshgraph_consistency_samples_total', help: 'Recently written keys the consistency sampler compared with Postgres' },
  { field: 'consistencyStale', name: 'freshgraph_consistency_stale_total', help: 'Sampled keys whose cached version was behind Postgres' },
];

const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const REDIS_BUCKETS = [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const DB_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface MetricsOptions {
  /** Sliding window of the write-share gauge. @default 60 */
  readonly writeShareWindowSeconds?: number;
  /** Node process metrics (CPU, memory, event loop, GC). @default true */
  readonly processMetrics?: boolean;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Every freshgraph_* series of one server instance, in its own registry (never
 * prom-client's global one), so several servers can live in one process.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly writeShare: WriteShareWindow;
  private readonly now: () => number;
  private readonly requests: Counter<'operation_type' | 'status'>;
  private readonly requestSeconds: Histogram<'operation_type'>;
  private readonly redisSeconds: Histogram<'op' | 'result'>;
  // Children bound to their label values: observing through one skips prom-client's per-call label hashing.
  private readonly boundRequests = new Map<string, { inc(): void }>();
  private readonly boundRequestSeconds = new Map<string, { observe(value: number): void }>();
  private readonly boundRedisSeconds = new Map<string, { observe(value: number): void }>();
  private readonly dbSeconds: Histogram<'result'>;
  private readonly staleAge: Histogram;
  private readonly unwatch: (() => void)[] = [];

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.now = options.now ?? Date.now;
    this.writeShare = new WriteShareWindow(options.writeShareWindowSeconds ?? 60);
    this.requests = new Counter({
      name: 'freshgraph_requests_total',
      help: 'GraphQL HTTP requests by operation type (none: refused before an operation was known) and HTTP status',
      labelNames: ['operation_type', 'status'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'freshgraph_request_duration_seconds',
      help: 'GraphQL HTTP request latency, from the first byte read to the response handed to the socket',
      labelNames: ['operation_type'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.redisSeconds = new Histogram({
      name: 'freshgraph_redis_duration_seconds',
      help: 'Cache store calls (one network round trip each with Redis) by operation and result',
      labelNames: ['op', 'result'],
      buckets: REDIS_BUCKETS,
      registers,
    });
    this.dbSeconds = new Histogram({
      name: 'freshgraph_db_query_duration_seconds',
      help: 'SQL statements sent through knex, by result',
      labelNames: ['result'],
      buckets: DB_BUCKETS,
      registers,
    });
    this.staleAge = new Histogram({
      name: 'freshgraph_consistency_stale_age_seconds',
      help: 'For each sampled key found behind Postgres: seconds since this instance last wrote it',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    });
    const window = this.writeShare;
    const now = this.now;
    new Gauge({
      name: 'freshgraph_cache_write_share',
      help: `Share of cache entity operations that are writes (write-through) over the last ${window.windowMs / 1000} s: writes / (reads + writes)`,
      registers,
      collect() {
        this.set(window.totals(now()).share);
      },
    });
    new Gauge({
      name: 'freshgraph_cache_window_operations',
      help: `Cache entity operations over the last ${window.windowMs / 1000} s, by kind (read: keys looked up; write: keys written through)`,
      labelNames: ['kind'],
      registers,
      collect() {
        const totals = window.totals(now());
        this.set({ kind: 'read' }, totals.reads);
        this.set({ kind: 'write' }, totals.writes);
      },
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'freshgraph_' });
  }

  /** One GraphQL HTTP request, when its response has been handed to the socket. */
  observeRequest(operationType: string, status: number, seconds: number): void {
    bound(this.boundRequests, `${operationType} ${status}`, () => this.requests.labels(operationType, String(status))).inc();
    bound(this.boundRequestSeconds, operationType, () => this.requestSeconds.labels(operationType)).observe(seconds);
  }

  /** Pass as CacheEngine's `onStoreCall`: Redis latency, and the write-share window. */
  readonly observeStoreCall = (op: StoreOp, durationMs: number, ok: boolean, keyCount: number): void => {
    const result = ok ? 'ok' : 'error';
    bound(this.boundRedisSeconds, `${op} ${result}`, () => this.redisSeconds.labels(op, result)).observe(durationMs / 1000);
    if (op === 'read') this.writeShare.record(keyCount, 0, this.now());
    else if (op === 'write') this.writeShare.record(0, keyCount, this.now());
  };

  /** Exports the engine's counters, read at each scrape. */
  watchCache(counters: CacheCounters): void {
    const registers = [this.registry];
    for (const { field, name, help } of CACHE_COUNTERS) scrapedCounter(registers, name, help, () => counters[field] as number);
    new Counter({
      name: 'freshgraph_cache_cas_writes_total',
      help: 'Version-guarded cache writes by outcome: written and refreshed were applied, rejected met a higher version',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        this.inc({ outcome: 'written' }, counters.casWritten);
        this.inc({ outcome: 'refreshed' }, counters.casRefreshed);
        this.inc({ outcome: 'rejected' }, counters.casRejected);
      },
    });
  }

  /**
   * The reliability machinery's state: the circuit breaker, the keys read from
   * Postgres while their write awaits repair, the outbox backlog and its rows set aside, and the
   * consistency sampler's stale ages (fed through `observeStaleSample`).
   */
  watchCacheHealth(cache: CacheEngine, outbox: { readonly outboxPending: number; readonly outboxRejected: number }): void {
    const registers = [this.registry];
    new Gauge({
      name: 'freshgraph_cache_breaker_open',
      help: '1 while the circuit breaker skips the cache (open or probing), else 0',
      registers,
      collect() {
        this.set(cache.breaker.state === 'closed' ? 0 : 1);
      },
    });
    new Counter({
      name: 'freshgraph_cache_breaker_opens_total',
      help: 'Times the circuit breaker opened',
      registers,
      collect() {
        this.reset();
        this.inc(cache.breaker.opens);
      },
    });
    new Gauge({
      name: 'freshgraph_cache_untrusted_keys',
      help: 'Keys served from Postgres until their failed write is repaired: own (this instance failed) or fleet (the outbox shows it)',
      labelNames: ['scope'],
      registers,
      collect() {
        this.set({ scope: 'own' }, cache.trust.suspectCount);
        this.set({ scope: 'fleet' }, cache.trust.pendingElsewhereCount);
      },
    });
    new Gauge({
      name: 'freshgraph_cache_outbox_pending',
      help: 'Outbox rows not yet cleared: cache writes in flight or awaiting repair, fleet-wide (counted once per repair pass)',
      registers,
      collect() {
        // Counted by the repair loop: a scrape never runs SQL.
        this.set(outbox.outboxPending);
      },
    });
    new Gauge({
      name: 'freshgraph_cache_outbox_rejected',
      help: 'Outbox rows set aside in cache_outbox_rejected (no pass could apply them), fleet-wide (counted once per repair pass)',
      registers,
      collect() {
        this.set(outbox.outboxRejected);
      },
    });
    new Gauge({
      name: 'freshgraph_consistency_ratio',
      help: 'Share of sampled keys whose cached version matched Postgres, since start (1 before any sample)',
      registers,
      collect() {
        const { consistencySamples: n, consistencyStale: stale } = cache.counters;
        this.set(n === 0 ? 1 : 1 - stale / n);
      },
    });
  }

  /** The local copy in front of Redis (CACHE_LOCAL_BYTES), read at each scrape. */
  watchLocalCopy(copy: { readonly state: LocalCopyState }): void {
    const registers = [this.registry];
    const counters: readonly { name: string; help: string; read: (s: LocalCopyState) => number }[] = [
      { name: 'freshgraph_cache_local_hits_total', help: 'Keys answered from the local copy, after the read barrier', read: (s) => s.stats.hits },
      { name: 'freshgraph_cache_local_misses_total', help: 'Keys the local copy could not answer while on, read from Redis', read: (s) => s.stats.misses },
      { name: 'freshgraph_cache_local_invalidations_total', help: 'Local copies dropped because Redis (CLIENT TRACKING) or a write of this instance said their key changed', read: (s) => s.stats.invalidations },
      { name: 'freshgraph_cache_local_overtaken_total', help: 'Values read from Redis and not kept, because an invalidation hit their key while the read was in flight', read: (s) => s.stats.overtaken },
      { name: 'freshgraph_cache_local_evictions_total', help: 'Local copies evicted to stay within CACHE_LOCAL_BYTES', read: (s) => s.stats.evictions },
      { name: 'freshgraph_cache_local_flushes_total', help: 'Times the whole local copy was emptied (a connection lost, FLUSHALL, the cache epoch changed)', read: (s) => s.stats.flushes },
      { name: 'freshgraph_cache_local_barrier_pings_total', help: 'Read barriers: PINGs on the invalidation connection, each shared by the reads of one tick', read: (s) => s.barrierPings },
    ];
    for (const { name, help, read } of counters) scrapedCounter(registers, name, help, () => read(copy.state));
    const gauges: readonly { name: string; help: string; read: (s: LocalCopyState) => number }[] = [
      { name: 'freshgraph_cache_local_on', help: '1 while the local copy may answer (both connections up, tracking on), else 0', read: (s) => (s.on ? 1 : 0) },
      { name: 'freshgraph_cache_local_bytes', help: 'Bytes the local copy holds, as counted against CACHE_LOCAL_BYTES', read: (s) => s.bytes },
      { name: 'freshgraph_cache_local_entries', help: 'Envelopes the local copy holds', read: (s) => s.entries },
    ];
    for (const { name, help, read } of gauges) scrapedGauge(registers, name, help, () => read(copy.state));
  }

  /** Pass as the consistency sampler's `onStale`: how long a stale key had been behind. */
  readonly observeStaleSample = (ageMs: number): void => {
    this.staleAge.observe(ageMs / 1000);
  };

  /** Times every SQL statement through knex's query events; stops with close(). */
  watchDatabase(knex: Knex): void {
    const started = new Map<string, number>();
    const onQuery = (query: { __knexQueryUid?: string }) => {
      if (query.__knexQueryUid === undefined) return;
      // Statements outside the query runner (a transaction's BEGIN) have no uid and no response event;
      // this bound is only a guard against a leak if some other path never answers.
      if (started.size > 10_000) started.clear();
      started.set(query.__knexQueryUid, performance.now());
    };
    const finish = (query: { __knexQueryUid?: string } | undefined, result: 'ok' | 'error') => {
      const uid = query?.__knexQueryUid;
      if (uid === undefined) return;
      const began = started.get(uid);
      if (began === undefined) return;
      started.delete(uid);
      this.dbSeconds.observe({ result }, (performance.now() - began) / 1000);
    };
    const onResponse = (_response: unknown, query?: { __knexQueryUid?: string }) => finish(query, 'ok');
    const onError = (_err: unknown, query?: { __knexQueryUid?: string }) => finish(query, 'error');
    knex.on('query', onQuery);
    knex.on('query-response', onResponse);
    knex.on('query-error', onError);
    this.unwatch.push(() => {
      knex.removeListener('query', onQuery);
      knex.removeListener('query-response', onResponse);
      knex.removeListener('query-error', onError);
    });
  }

  /** Detaches from knex; the registry stays readable. */
  close(): void {
    for (const stop of this.unwatch.splice(0)) stop();
  }
}

/** The child for `key`, bound once; label sets are few (operation types, statuses, store ops). */
/** A counter whose total is read from elsewhere at each scrape (the source counts; prom-client only reports). */
function scrapedCounter(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A gauge read at each scrape. */
function scrapedGauge(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

function bound<T>(children: Map<string, T>, key: string, bind: () => T): T {
  let child = children.get(key);
  if (child === undefined) {
    child = bind();
    children.set(key, child);
  }
  return child;
}
