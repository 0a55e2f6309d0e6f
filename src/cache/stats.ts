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

  snapshot(): Record<string, number> {
    return Object.fromEntries(Object.entries(this).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  }
}
