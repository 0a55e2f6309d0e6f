/**
 * The write share of cache operations over a sliding window: entity writes
 * (keys a mutation writes through) / (entity reads (keys looked up) + writes).
 * Write-through pays for every write in the hope of later reads; past 20-30 %
 * writes it costs more than it saves, which is worth a warning.
 *
 * One bucket per second in fixed arrays: recording allocates nothing.
 */
export class WriteShareWindow {
  readonly windowMs: number;
  private readonly seconds: number;
  private readonly stamps: Float64Array;
  private readonly reads: Float64Array;
  private readonly writes: Float64Array;

  constructor(windowSeconds = 60) {
    this.seconds = windowSeconds;
    this.windowMs = windowSeconds * 1000;
    this.stamps = new Float64Array(windowSeconds).fill(-1);
    this.reads = new Float64Array(windowSeconds);
    this.writes = new Float64Array(windowSeconds);
  }

  record(reads: number, writes: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const i = second % this.seconds;
    if (this.stamps[i] !== second) {
      this.stamps[i] = second;
      this.reads[i] = 0;
      this.writes[i] = 0;
    }
    this.reads[i] = (this.reads[i] as number) + reads;
    this.writes[i] = (this.writes[i] as number) + writes;
  }

  /** Totals over the last `windowSeconds` seconds; `share` is 0 when there was nothing. */
  totals(nowMs: number): { reads: number; writes: number; share: number } {
    const oldest = Math.floor(nowMs / 1000) - this.seconds;
    let reads = 0;
    let writes = 0;
    for (let i = 0; i < this.seconds; i++) {
      if ((this.stamps[i] as number) > oldest) {
        reads += this.reads[i] as number;
        writes += this.writes[i] as number;
      }
    }
    const total = reads + writes;
    return { reads, writes, share: total === 0 ? 0 : writes / total };
  }
}

export interface WriteShareAlarmOptions {
  /** Warn above this share. @default 0.25 */
  readonly threshold?: number;
  /** Fewer operations than this in the window say nothing about the workload. @default 100 */
  readonly minOperations?: number;
}

export type WriteShareVerdict = 'warn' | 'recovered' | undefined;

/**
 * Decides when to warn: once the share has been above the threshold at every
 * check for a whole window ("stays above"), then at most once per window while
 * it lasts, and once more when it falls back. Pure: the caller passes the time.
 */
export class WriteShareAlarm {
  private readonly threshold: number;
  private readonly minOperations: number;
  private aboveSince: number | undefined;
  private warnedAt: number | undefined;

  constructor(
    private readonly window: WriteShareWindow,
    options: WriteShareAlarmOptions = {},
  ) {
    this.threshold = options.threshold ?? 0.25;
    this.minOperations = options.minOperations ?? 100;
  }

  check(nowMs: number): { verdict: WriteShareVerdict; reads: number; writes: number; share: number } {
    const totals = this.window.totals(nowMs);
    const above = totals.reads + totals.writes >= this.minOperations && totals.share > this.threshold;
    let verdict: WriteShareVerdict;
    if (!above) {
      if (this.warnedAt !== undefined) verdict = 'recovered';
      this.aboveSince = undefined;
      this.warnedAt = undefined;
    } else {
      this.aboveSince ??= nowMs;
      const sustained = nowMs - this.aboveSince >= this.window.windowMs;
      if (sustained && (this.warnedAt === undefined || nowMs - this.warnedAt >= this.window.windowMs)) {
        this.warnedAt = nowMs;
        verdict = 'warn';
      }
    }
    return { verdict, ...totals };
  }
}

export interface WriteShareWatchOptions extends WriteShareAlarmOptions {
  readonly logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** How often to look. @default a sixth of the window */
  readonly intervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Checks the window on a timer and logs the alarm's verdicts; returns a stop function. */
export function watchWriteShare(window: WriteShareWindow, options: WriteShareWatchOptions): () => void {
  const alarm = new WriteShareAlarm(window, options);
  const now = options.now ?? Date.now;
  const threshold = options.threshold ?? 0.25;
  const timer = setInterval(() => {
    const { verdict, reads, writes, share } = alarm.check(now());
    const facts = { writeShare: Math.round(share * 1000) / 1000, reads, writes, windowSeconds: window.windowMs / 1000, threshold };
    if (verdict === 'warn') {
      options.logger.warn(
        facts,
        'cache write share has stayed above the threshold for a whole window: write-through may cost more than it saves for this workload',
      );
    } else if (verdict === 'recovered') {
      options.logger.info(facts, 'cache write share is back under the threshold');
    }
  }, options.intervalMs ?? window.windowMs / 6);
  timer.unref();
  return () => clearInterval(timer);
}
