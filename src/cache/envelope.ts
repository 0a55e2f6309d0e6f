/**
 * The value stored under every cache key. `v` is a committed row version
 * (a tombstone carries the deleted row's version + 1 and `data: null`);
 * `delta` and `exp` serve probabilistic early expiration.
 *
 * JSON field order matters: `v` comes first so that the CAS script can read
 * it without decoding the whole document.
 */
export interface Envelope<T = unknown> {
  /** Committed row version; 0 marks "no such row" (a negative entry). */
  readonly v: number;
  /** The row, or null for a tombstone / negative entry. */
  readonly data: T | null;
  /** When this envelope was produced (ISO-8601). */
  readonly written_at: string;
  /** Milliseconds the value took to load: XFetch's recompute cost. */
  readonly delta: number;
  /** Logical expiry, epoch milliseconds; the Redis TTL ends at the same moment. */
  readonly exp: number;
  /**
   * The shape of what `data` holds (a hash of the definition it was written
   * for); a reader of another shape treats the envelope as a miss, so a deploy
   * that changes a type never serves a missing or mistyped field.
   */
  readonly s?: string;
}

export function createEnvelope<T>(
  version: number,
  data: T | null,
  nowMs: number,
  ttlMs: number,
  deltaMs: number,
  shape?: string,
): Envelope<T> {
  return {
    v: version,
    data,
    written_at: new Date(nowMs).toISOString(),
    delta: Math.max(1, Math.round(deltaMs)),
    exp: nowMs + ttlMs,
    ...(shape === undefined ? {} : { s: shape }),
  };
}

export function serializeEnvelope(envelope: Envelope): string {
  return JSON.stringify({
    v: envelope.v,
    data: envelope.data,
    written_at: envelope.written_at,
    delta: envelope.delta,
    exp: envelope.exp,
    ...(envelope.s === undefined ? {} : { s: envelope.s }),
  });
}

/** Anything that is not a well-formed envelope decodes to undefined and counts as a miss. */
export function parseEnvelope<T = unknown>(raw: string): Envelope<T> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const e = value as Record<string, unknown>;
  if (!Number.isSafeInteger(e['v']) || (e['v'] as number) < 0) return undefined;
  if (e['data'] === undefined || (e['data'] !== null && typeof e['data'] !== 'object')) return undefined;
  if (typeof e['written_at'] !== 'string') return undefined;
  if (typeof e['delta'] !== 'number' || typeof e['exp'] !== 'number') return undefined;
  if (e['s'] !== undefined && typeof e['s'] !== 'string') return undefined;
  return value as Envelope<T>;
}

export function isLogicallyExpired(envelope: Envelope, nowMs: number): boolean {
  return nowMs >= envelope.exp;
}

/**
 * XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): refresh early with a
 * probability that rises as expiry nears and with the cost of a reload, so a
 * hot key is reloaded by roughly one reader before it expires instead of by
 * every reader after. `random()` is in (0, 1]; ln(random) <= 0, so the left
 * side moves forward in time by an exponentially distributed amount.
 */
export function shouldRefreshEarly(
  envelope: Envelope,
  nowMs: number,
  beta: number,
  random: () => number,
): boolean {
  if (beta <= 0) return nowMs >= envelope.exp;
  const r = random();
  const u = r > 0 ? r : Number.MIN_VALUE;
  return nowMs - envelope.delta * beta * Math.log(u) >= envelope.exp;
}
