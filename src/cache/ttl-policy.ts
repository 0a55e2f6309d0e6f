/** How long a value lives in the store: the safety net, never what keeps it fresh. */
export class TtlPolicy {
  readonly ttlMs: number;
  readonly absentTtlMs: number;

  /** `absentTtlSeconds` is capped at `ttlSeconds`. */
  constructor(ttlSeconds: number, absentTtlSeconds: number) {
    this.ttlMs = ttlSeconds * 1000;
    this.absentTtlMs = Math.min(this.ttlMs, absentTtlSeconds * 1000);
  }

  /**
   * Only "no such value" (version 0 with no data) is short-lived, so reads of
   * random ids cannot fill the store for long; a tombstone (no data at a
   * version >= 1) guards a deletion for the full TTL, and a list at version 0
   * (never changed since it was first cached) holds data.
   */
  ttlFor(version: number, data: unknown): number {
    return version === 0 && data === null ? this.absentTtlMs : this.ttlMs;
  }
}
