import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/cache/circuit-breaker.js';

describe('circuit breaker', () => {
  it('opens after consecutive failures, probes once after the open period, closes on success', () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, now: () => now });
    b.failure();
    b.failure();
    expect(b.allow()).toBe(true);
    b.success(); // a success resets the count
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    now = 999;
    expect(b.allow()).toBe(false);
    now = 1000;
    expect(b.allow()).toBe(true); // the probe
    expect(b.allow()).toBe(false); // only one at a time
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
    expect(b.opens).toBe(1);
  });

  it('reopens when the probe fails', () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 1, openMs: 100, now: () => now });
    b.failure();
    now = 150;
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    now = 260;
    expect(b.allow()).toBe(true);
    expect(b.opens).toBe(2);
  });
});
