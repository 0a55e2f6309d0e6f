import { createEnvelope, parseEnvelope, serializeEnvelope } from '../../src/cache/envelope.js';
import type { CacheStore } from '../../src/cache/store.js';
import { seededRandom } from './history.js';

export interface FreshnessLoadOptions {
  /** Stores that write (CAS, increasing versions per key). */
  readonly writers: readonly CacheStore[];
  /** Stores that read; each read is checked against what was acknowledged before it began. */
  readonly readers: readonly CacheStore[];
  readonly keys: readonly string[];
  /** Concurrent loops per reader store. @default 8 */
  readonly readLoops?: number;
  /** Concurrent loops per writer store. @default 2 */
  readonly writeLoops?: number;
  /** Keys per read. @default 5 */
  readonly batch?: number;
  /** Ends once this many writes were acknowledged... @default 2000 */
  readonly writes?: number;
  /** ...or at this deadline, whichever comes first. @default 20000 */
  readonly maxMs?: number;
  /** Runs alongside the load (a fault); the load goes on until it has resolved. */
  readonly during?: (progress: { readonly writes: number; readonly reads: number }) => Promise<void>;
  readonly seed?: number;
}

export interface FreshnessLoadResult {
  readonly reads: number;
  readonly writes: number;
  /** Reads (key, version seen, version acknowledged before the read began) older than acknowledged. */
  readonly stale: readonly string[];
  readonly readErrors: number;
  readonly writeErrors: number;
}

/**
 * Writers and readers on the same keys at once, straight on stores: every
 * read that begins after a write was acknowledged must return that write's
 * version or a later one, wherever it is answered from.
 */
export async function runFreshnessLoad(options: FreshnessLoadOptions): Promise<FreshnessLoadResult> {
  const random = seededRandom(options.seed ?? 1);
  const { keys } = options;
  const batch = options.batch ?? 5;
  const target = options.writes ?? 2000;
  const deadline = Date.now() + (options.maxMs ?? 20_000);
  const next = new Map<string, number>();
  const acked = new Map<string, number>();
  const stale: string[] = [];
  let reads = 0;
  let writes = 0;
  let readErrors = 0;
  let writeErrors = 0;
  let faultDone = options.during === undefined;
  const going = () => Date.now() < deadline && (writes < target || !faultDone);
  const pick = () => keys[Math.floor(random() * keys.length)] as string;

  const writer = async (store: CacheStore) => {
    while (going()) {
      const key = pick();
      const version = (next.get(key) ?? 0) + 1;
      next.set(key, version);
      const value = serializeEnvelope(createEnvelope(version, { version }, Date.now(), 60_000, 1));
      try {
        const [outcome] = await store.apply({ writes: [{ key, value, version, ttlMs: 60_000 }] });
        if (outcome === 'written' || outcome === 'refreshed') acked.set(key, Math.max(acked.get(key) ?? 0, version));
        writes++;
      } catch {
        writeErrors++; // it may still land later: then reads see a higher version, which is allowed
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const reader = async (store: CacheStore) => {
    while (going()) {
      const wanted = Array.from({ length: batch }, pick);
      const floors = wanted.map((k) => acked.get(k) ?? 0);
      let raws: (string | null)[];
      try {
        raws = await store.read(wanted);
      } catch {
        readErrors++;
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      reads++;
      raws.forEach((raw, i) => {
        const seen = raw === null ? 0 : (parseEnvelope(raw)?.v ?? -1);
        if (seen < (floors[i] as number)) stale.push(`${wanted[i]}: read ${seen}, acknowledged ${floors[i]}`);
      });
    }
  };
  const loops = [
    ...options.writers.flatMap((s) => Array.from({ length: options.writeLoops ?? 2 }, () => writer(s))),
    ...options.readers.flatMap((s) => Array.from({ length: options.readLoops ?? 8 }, () => reader(s))),
  ];
  const fault = options.during?.({
    get writes() {
      return writes;
    },
    get reads() {
      return reads;
    },
  });
  await fault?.finally(() => (faultDone = true));
  await Promise.all(loops);
  return { reads, writes, stale, readErrors, writeErrors };
}
