import type { Plan } from './plan.js';

/** An operation the fast path has answered through Apollo's pipeline, by its exact text and operation name. */
export interface Learned {
  readonly plan: Plan;
  /** The operation's own name, as Apollo reports it to the request log. */
  readonly operationName: string | undefined;
  /** The highest cost (cost.ts, equal to the cost limit's) at which Apollo's pipeline has accepted this operation. */
  acceptedCost: number;
}

export interface LearnedOptions {
  /** What the table may hold, counting two bytes per character of text plus a fixed overhead per entry. @default 2 MiB */
  readonly budgetBytes?: number;
  /** Longer operation texts are never learned. @default 8192 */
  readonly maxQueryLength?: number;
}

/** A rough size of one entry besides its text: the map slot, the entry and its plan. */
const ENTRY_OVERHEAD_BYTES = 512;

/**
 * The learned operations: least recently used first out once the byte budget
 * is spent, so that a client sending ever new texts cannot grow it, nor push out
 * the operations in use. Keyed so that no two (name, text) pairs can collide:
 * a named key carries the name's length before the name.
 */
export class LearnedOperations {
  private readonly entries = new Map<string, Learned & { readonly bytes: number }>();
  private bytes = 0;
  private readonly budgetBytes: number;
  private readonly maxQueryLength: number;

  constructor(options: LearnedOptions = {}) {
    this.budgetBytes = options.budgetBytes ?? 2 * 1024 * 1024;
    this.maxQueryLength = options.maxQueryLength ?? 8192;
  }

  static key(query: string, operationName: string | undefined): string {
    return operationName === undefined ? `-${query}` : `+${operationName.length}:${operationName}${query}`;
  }

  /** The entry, now the most recently used. */
  get(query: string, operationName: string | undefined): Learned | undefined {
    const key = LearnedOperations.key(query, operationName);
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  learn(query: string, operationName: string | undefined, plan: Plan, reportedName: string | undefined, cost: number): void {
    const key = LearnedOperations.key(query, operationName);
    const known = this.entries.get(key);
    if (known !== undefined) {
      if (cost > known.acceptedCost) known.acceptedCost = cost;
      return;
    }
    if (query.length > this.maxQueryLength) return;
    const bytes = key.length * 2 + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.budgetBytes) return;
    this.entries.set(key, { plan, operationName: reportedName, acceptedCost: cost, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.budgetBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }
}
