import type { CacheLogger } from '../cache/engine.js';
import type { OutboxRepository } from '../db/outbox-repository.js';

export interface OutboxPrunerOptions {
  readonly outbox: OutboxRepository;
  readonly logger: CacheLogger;
  /**
   * Rows older than this repair nothing: every value a cache held before their
   * change has expired (the TTL), and every fill since read the change (a fill
   * outlives its lease by nothing). The cache TTL plus the lease TTL, at least.
   */
  readonly olderThanMs: number;
  /** Pause between passes. @default 30000 */
  readonly intervalMs?: number;
}

const BATCH = 10_000;

/**
 * CACHE_MODE=off keeps no cache, so no repair worker drains the outbox; the
 * triggers still record other programs' changes there (another instance of the
 * fleet may keep a cache). This deletes the rows that are too old to repair
 * anything, so the table does not grow without bound.
 */
export class OutboxPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly options: OutboxPrunerOptions) {}

  start(): void {
    if (this.timer) return;
    const loop = () => {
      this.running = this.runOnce()
        .catch((err: unknown) => this.options.logger.warn({ err }, 'pruning old outbox rows failed; trying again later'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(loop, this.options.intervalMs ?? 30_000);
        });
    };
    this.timer = setTimeout(loop, this.options.intervalMs ?? 30_000);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Deletes every row old enough, in batches; resolves to how many. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.options.outbox.deleteOlderThan(this.options.olderThanMs, BATCH);
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }
}
