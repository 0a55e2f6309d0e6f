import type { OutboxRepository } from '../db/outbox-repository.js';

export interface OutboxClearerOptions {
  /** Flush once this many ids wait. @default 500 */
  readonly batchSize?: number;
  /** Flush at the latest this long after the first id arrived. @default 100 */
  readonly maxDelayMs?: number;
  readonly onError?: (err: unknown) => void;
}

/**
 * Deletes outbox rows whose cache write landed, off the mutation's critical
 * path and many per statement: one DELETE per `maxDelayMs` however many
 * mutations ran (a DELETE inside each mutation's statement cost more than the
 * outbox insert itself). A row that is never deleted (a crash, a failed
 * delete) is only replayed by the repair worker, which the CAS makes harmless.
 */
export class OutboxClearer {
  private pending: string[] = [];
  /** Every id enqueued and not deleted yet (waiting or being deleted), for `holds`. */
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly batchSize: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly options: OutboxClearerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 100;
  }

  enqueue(ids: readonly string[]): void {
    if (ids.length === 0) return;
    for (const id of ids) {
      this.pending.push(id);
      this.held.add(id);
    }
    if (this.pending.length >= this.batchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.maxDelayMs);
  }

  /** Whether the id's write landed and its row only waits to be deleted (or is being deleted): it needs no repair. */
  holds(id: string): boolean {
    return this.held.has(id);
  }

  /** Deletes everything enqueued so far; resolves when done. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const ids = this.pending;
    this.pending = [];
    if (ids.length > 0) {
      this.inFlight = this.inFlight
        .then(() => this.outbox.deleteIds(ids))
        .catch((err: unknown) => this.options.onError?.(err))
        // Deleted, or left to the repair worker (whose replay the CAS makes harmless): either way no longer ours.
        .finally(() => {
          for (const id of ids) this.held.delete(id);
        });
    }
    return this.inFlight;
  }
}
