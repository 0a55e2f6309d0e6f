import { performance } from 'node:perf_hooks';

/** One operation as a client saw it: when it started, when it was acknowledged, what it saw. */
export interface Op {
  readonly kind: 'read' | 'write';
  readonly id: string;
  readonly start: number;
  readonly end: number;
  /** The version the write produced, or the read returned (undefined: read answered null). */
  readonly version: number | undefined;
}

export class History {
  readonly ops: Op[] = [];

  async record<T>(kind: Op['kind'], id: string, run: () => Promise<T>, versionOf: (result: T) => number | undefined): Promise<T> {
    const start = performance.now();
    const result = await run();
    this.ops.push({ kind, id, start, end: performance.now(), version: versionOf(result) });
    return result;
  }

  /**
   * Reads that returned a version older than a write acknowledged before the
   * read began: the one thing a write-through cache must never do.
   */
  staleReads(): { read: Op; newerAcknowledged: number }[] {
    const writesById = new Map<string, Op[]>();
    for (const op of this.ops) if (op.kind === 'write') (writesById.get(op.id) ?? writesById.set(op.id, []).get(op.id))?.push(op);
    const stale: { read: Op; newerAcknowledged: number }[] = [];
    for (const read of this.ops) {
      if (read.kind !== 'read') continue;
      let required = 0;
      for (const w of writesById.get(read.id) ?? []) if (w.end < read.start && (w.version ?? 0) > required) required = w.version ?? 0;
      if ((read.version ?? 0) < required) stale.push({ read, newerAcknowledged: required });
    }
    return stale;
  }
}

// The benchmark's seeded PRNG (mulberry32), so that a failing interleaving can be replayed.
export { seededRandom } from '../../bench/lib/random.js';
