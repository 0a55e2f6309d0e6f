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

/** Process-wide counters since start; exported as metrics. */
export class CacheCounters {
  hits = 0;
  misses = 0;
  invalidValues = 0;
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
  /** Consistency sampler: keys compared, and those found older in the cache than in the database. */
  consistencySamples = 0;
  consistencyStale = 0;

  snapshot(): Record<string, number> {
    return Object.fromEntries(Object.entries(this).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  }
}
