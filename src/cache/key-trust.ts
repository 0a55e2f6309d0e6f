/**
 * Which keys the cache may answer right now. A key whose latest write failed
 * on this instance (suspect), or on any instance as the outbox shows (pending
 * elsewhere), is read from the source until the repair worker has replayed it:
 * the cache may hold an older version than was acknowledged.
 */
export class KeyTrust {
  private readonly suspect = new Set<string>();
  private pendingElsewhere: ReadonlySet<string> = new Set();

  /** True when nothing is distrusted: the common case, checked first on every read. */
  get all(): boolean {
    return this.suspect.size === 0 && this.pendingElsewhere.size === 0;
  }

  trusts(key: string): boolean {
    return !this.suspect.has(key) && !this.pendingElsewhere.has(key);
  }

  /** This instance's write to these keys failed. */
  distrust(keys: Iterable<string>): void {
    for (const key of keys) this.suspect.add(key);
  }

  /** This instance's failed writes to these keys were repaired. */
  restore(keys: Iterable<string>): void {
    for (const key of keys) this.suspect.delete(key);
  }

  /** Replaces the set of keys with a write pending repair anywhere in the fleet. */
  setPendingElsewhere(keys: ReadonlySet<string>): void {
    this.pendingElsewhere = keys;
  }

  get suspectCount(): number {
    return this.suspect.size;
  }

  get pendingElsewhereCount(): number {
    return this.pendingElsewhere.size;
  }
}
