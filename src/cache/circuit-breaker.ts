export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. @default 3 */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before one probe call is let through. @default 1000 */
  readonly openMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Stops calling a store that keeps failing, so that requests stop paying a
 * command timeout each while Redis is down or paused: while open, callers go
 * straight to their fallback. After `openMs`, one call probes; its success
 * closes the circuit, its failure opens it again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private current: BreakerState = 'closed';
  private readonly threshold: number;
  private readonly openMs: number;
  private readonly now: () => number;
  /** Times the circuit has opened; for metrics. */
  opens = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.threshold = options.failureThreshold ?? 3;
    this.openMs = options.openMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a call may go to the store now; in half-open state only one probe at a time. */
  allow(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open') {
      if (this.now() - this.openedAt < this.openMs) return false;
      this.current = 'half-open';
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.current = 'closed';
  }

  failure(): void {
    this.probing = false;
    this.failures++;
    if (this.current === 'half-open' || this.failures >= this.threshold) {
      if (this.current !== 'open') this.opens++;
      this.current = 'open';
      this.openedAt = this.now();
    }
  }
}
