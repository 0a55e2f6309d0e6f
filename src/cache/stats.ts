/** What one request cost; filled in by the engine, read by tests and the debug view. */
export interface RequestCacheStats {
  hits: number;
  misses: number;
  /** Calls that crossed the network to the cache store. */
  redisRoundTrips: number;
  /** Loads issued to the source (one SQL statement each in our repositories). */
  sourceLoads: number;
}

export const newRequestStats = (): RequestCacheStats => ({
  hits: 0,
  misses: 0,
  redisRoundTrips: 0,
  sourceLoads: 0,
});

/** Process-wide counters since start; exported as metrics. Written only by the CacheMeter that owns them. */
export class CacheCounters {
  hits = 0;
  misses = 0;
  invalidValues = 0;
  /** Values written for another shape of their type (another deploy's definition), read as misses. */
  otherShapes = 0;
  /** Envelopes written before the store may have lost writes (a restart from a snapshot, a failover): treated as misses. */
  distrustedValues = 0;
  earlyRefreshes = 0;
  casWritten = 0;
  casRefreshed = 0;
  casRejected = 0;
  writeRetries = 0;
  writeFailures = 0;
  readFailures = 0;
  fillFailures = 0;
  singleFlightJoins = 0;
  sourceLoads = 0;
  /** Fills refused because a write cancelled (or time expired) their lease. */
  leaseLost = 0;
  /** Times a reader waited for another's fill instead of loading. */
  leaseWaits = 0;
  /** Loads served without a lease (cache down, suspect key, or the wait ran out): no fill. */
  fallbacks = 0;
  /** Store calls skipped because the circuit was open. */
  breakerRejections = 0;
  /** Outbox rows whose cache write was replayed by the repair worker. */
  repairs = 0;
  /** Outbox rows the repair worker could not apply and set aside. */
  outboxRejects = 0;
  /** Consistency sampler: keys compared, and those found older in the cache than in the database. */
  consistencySamples = 0;
  consistencyStale = 0;

  snapshot(): Record<string, number> {
    return Object.fromEntries(Object.entries(this).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  }
}

/** A CAS script's answer, as counted. */
export type CountedOutcome = 'written' | 'refreshed' | 'rejected' | 'lease-lost';

/**
 * Every event the cache counts, by name: the read path, the write path and the
 * workers report what happened here, and this is the one place that turns it
 * into the process counters and (where given) the request's own figures.
 */
export class CacheMeter {
  readonly counters = new CacheCounters();

  hits(n: number, request: RequestCacheStats | undefined): void {
    this.counters.hits += n;
    if (request) request.hits += n;
  }

  misses(n: number, request: RequestCacheStats | undefined): void {
    this.counters.misses += n;
    if (request) request.misses += n;
  }

  roundTrip(request: RequestCacheStats | undefined): void {
    if (request) request.redisRoundTrips++;
  }

  sourceLoad(request: RequestCacheStats | undefined): void {
    this.counters.sourceLoads++;
    if (request) request.sourceLoads++;
  }

  singleFlightJoin(): void {
    this.counters.singleFlightJoins++;
  }

  leaseWaits(n: number): void {
    this.counters.leaseWaits += n;
  }

  fallback(): void {
    this.counters.fallbacks++;
  }

  earlyRefreshes(n: number): void {
    this.counters.earlyRefreshes += n;
  }

  /** A value written for another shape of its type (a deploy under way), read as a miss. */
  otherShape(): void {
    this.counters.otherShapes++;
  }

  invalidValue(): void {
    this.counters.invalidValues++;
  }

  distrustedValue(): void {
    this.counters.distrustedValues++;
  }

  readFailure(): void {
    this.counters.readFailures++;
  }

  fillFailure(): void {
    this.counters.fillFailures++;
  }

  writeRetry(): void {
    this.counters.writeRetries++;
  }

  writeFailure(): void {
    this.counters.writeFailures++;
  }

  breakerRejection(): void {
    this.counters.breakerRejections++;
  }

  repairs(n: number): void {
    this.counters.repairs += n;
  }

  outboxRejects(n: number): void {
    this.counters.outboxRejects += n;
  }

  consistencySample(sampled: number, stale: number): void {
    this.counters.consistencySamples += sampled;
    this.counters.consistencyStale += stale;
  }

  outcomes(outcomes: readonly CountedOutcome[]): void {
    for (const outcome of outcomes) {
      if (outcome === 'written') this.counters.casWritten++;
      else if (outcome === 'refreshed') this.counters.casRefreshed++;
      else if (outcome === 'rejected') this.counters.casRejected++;
      else this.counters.leaseLost++;
    }
  }
}
