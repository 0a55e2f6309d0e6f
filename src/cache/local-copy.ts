/**
 * The in-process copy of recently read values, bounded by bytes, and the
 * bookkeeping that keeps a read in flight from storing a value an
 * invalidation has already overtaken. It knows nothing of Redis: the tracking
 * store (tracking-store.ts) decides when it may be read and feeds it
 * invalidations.
 */

/**
 * What one entry is counted as: its key and value at one byte per character
 * (V8 keeps ASCII text at one byte) plus this much for the two string
 * headers, the record and the Map slot: a product's envelope and key of 330
 * characters take about 490 bytes of heap (docs/benchmark.md). Text outside
 * Latin-1 takes two bytes per character, so such values cost up to twice
 * what they are counted as.
 */
export const ENTRY_OVERHEAD_BYTES = 160;

interface Entry {
  readonly value: string;
  readonly bytes: number;
  /** The envelope's logical expiry, when Redis' TTL ends too (epoch ms); past it the entry is a miss. */
  readonly exp: number;
  /** Read since the eviction hand last passed it (second chance): cheaper on a hit than moving it to the end. */
  referenced: boolean;
}

/** A read's claim on its keys: the invalidation count of each when the read began. */
export interface ReadTicket {
  readonly keys: readonly string[];
  readonly seen: readonly number[];
  /** The flush count when it began: a read that outlived a flush stores nothing. */
  readonly flushes: number;
}

export interface LocalCopyStats {
  /** Keys answered from the copy (counted by the tracking store). */
  hits: number;
  /** Keys asked of Redis while the copy was on. */
  misses: number;
  /** Entries dropped because Redis (or a write of this instance) said their key changed. */
  invalidations: number;
  /** Values not stored because an invalidation hit their key while the read was in flight. */
  overtaken: number;
  evictions: number;
  /** Times the whole copy was emptied (connection lost, FLUSHALL, epoch key changed). */
  flushes: number;
}

export class LocalCopy {
  readonly stats: LocalCopyStats = { hits: 0, misses: 0, invalidations: 0, overtaken: 0, evictions: 0, flushes: 0 };
  private readonly entries = new Map<string, Entry>();
  /** Keys with reads in flight: how many readers, and invalidations seen since the first began. */
  private readonly inFlight = new Map<string, { readers: number; invalidations: number }>();
  private size = 0;
  private generation = 0;
  /** Grows whenever an entry is invalidated or the copy emptied: unchanged, every entry read before is still current. */
  removals = 0;

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.size;
  }

  get count(): number {
    return this.entries.size;
  }

  /** The value, or undefined if the copy lacks it or its TTL in Redis has ended (`now`: epoch ms). */
  get(key: string, now: number): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.exp <= now) return undefined;
    entry.referenced = true;
    return entry.value;
  }

  /** Before a read is sent: what each key's invalidation count is now. */
  begin(keys: readonly string[]): ReadTicket {
    const seen = keys.map((key) => {
      const flight = this.inFlight.get(key);
      if (flight === undefined) {
        this.inFlight.set(key, { readers: 1, invalidations: 0 });
        return 0;
      }
      flight.readers++;
      return flight.invalidations;
    });
    return { keys, seen, flushes: this.generation };
  }

  /**
   * After the read answered (values in ticket order) or failed (undefined).
   * With `store`, a value is kept only if no invalidation hit its key since
   * begin(): one that did may be older than the write that caused it.
   */
  end(ticket: ReadTicket, values: readonly (string | null)[] | undefined, store: boolean): void {
    // Emptied by a flush meanwhile: nothing of this read is kept, and its counts went with the flush.
    if (ticket.flushes !== this.generation) return;
    ticket.keys.forEach((key, i) => {
      const flight = this.inFlight.get(key);
      if (flight === undefined) return;
      const value = values?.[i];
      if (store && typeof value === 'string') {
        if (flight.invalidations === ticket.seen[i]) this.set(key, value);
        else this.stats.overtaken++;
      }
      if (--flight.readers === 0) this.inFlight.delete(key);
    });
  }

  /** Redis (or this instance's own write) says the key changed. */
  invalidate(key: string): void {
    const flight = this.inFlight.get(key);
    if (flight !== undefined) flight.invalidations++;
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.size -= entry.bytes;
    this.removals++;
    this.stats.invalidations++;
  }

  /** Everything goes, and no read in flight may store what it brings back. */
  flush(): void {
    if (this.entries.size > 0 || this.inFlight.size > 0) this.stats.flushes++;
    this.generation++;
    this.removals++;
    this.entries.clear();
    this.inFlight.clear();
    this.size = 0;
  }

  private set(key: string, value: string): void {
    const bytes = key.length + value.length + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.size -= old.bytes;
    }
    this.entries.set(key, { value, bytes, exp: expiryOf(value), referenced: false });
    this.size += bytes;
    this.evict();
  }

  /** Oldest first; one read since the hand last passed it buys an entry another round. */
  private evict(): void {
    while (this.size > this.maxBytes) {
      const next = this.entries.entries().next();
      if (next.done === true) return;
      const [key, entry] = next.value;
      this.entries.delete(key);
      if (entry.referenced) {
        entry.referenced = false;
        this.entries.set(key, entry);
        continue;
      }
      this.size -= entry.bytes;
      this.stats.evictions++;
    }
  }
}

/**
 * The `exp` of a serialized envelope, found without parsing it: it follows the
 * row (envelope.ts writes `data` before it), so it is searched from the end.
 * Anything without one is kept for no time at all: Redis alone answers for it.
 */
export function expiryOf(value: string): number {
  const at = value.lastIndexOf('"exp":');
  if (at < 0) return 0;
  const exp = Number.parseInt(value.slice(at + 6, at + 6 + 20), 10);
  return Number.isSafeInteger(exp) ? exp : 0;
}
