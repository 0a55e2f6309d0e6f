import { describe, expect, it } from 'vitest';
import {
  createEnvelope,
  isLogicallyExpired,
  parseEnvelope,
  serializeEnvelope,
  shouldRefreshEarly,
} from '../../src/cache/envelope.js';

describe('envelope', () => {
  const now = Date.parse('2026-11-26T12:00:00.000Z');

  it('serializes with v first and the documented fields', () => {
    const text = serializeEnvelope(createEnvelope(3, { id: 'a' }, now, 300_000, 4.4));
    expect(text.startsWith('{"v":3,')).toBe(true);
    expect(JSON.parse(text)).toEqual({
      v: 3,
      data: { id: 'a' },
      written_at: '2026-11-26T12:00:00.000Z',
      delta: 4,
      exp: now + 300_000,
    });
  });

  it('round-trips, including tombstones', () => {
    const tomb = createEnvelope(8, null, now, 1000, 1);
    expect(parseEnvelope(serializeEnvelope(tomb))).toEqual(tomb);
  });

  it.each(['', 'null', '[]', '{"v":1}', '{"v":"1","data":null,"written_at":"x","delta":1,"exp":1}', '{"v":1,"data":null,"written_at":"x","delta":1}'])(
    'rejects %j',
    (raw) => expect(parseEnvelope(raw)).toBeUndefined(),
  );

  it('expires logically at exp', () => {
    const e = createEnvelope(1, {}, now, 1000, 1);
    expect(isLogicallyExpired(e, now + 999)).toBe(false);
    expect(isLogicallyExpired(e, now + 1000)).toBe(true);
  });
});

describe('XFetch early refresh', () => {
  const now = 1_000_000;
  // delta 100 ms, expiring 1 s from now.
  const e = createEnvelope(1, {}, now - 299_000, 300_000, 100);

  it('never refreshes far from expiry, whatever the dice', () => {
    const farAway = createEnvelope(1, {}, now, 300_000, 100);
    expect(shouldRefreshEarly(farAway, now, 1, () => 1e-12)).toBe(false);
  });

  it('refreshes when -delta * beta * ln(random) reaches the remaining time', () => {
    // remaining 1000 ms; delta 100: needs -ln(r) >= 10, i.e. r <= e^-10.
    expect(shouldRefreshEarly(e, now, 1, () => Math.exp(-10) * 0.99)).toBe(true);
    expect(shouldRefreshEarly(e, now, 1, () => Math.exp(-10) * 1.01)).toBe(false);
  });

  it('refreshes earlier with a larger beta', () => {
    const r = () => Math.exp(-5); // -ln r = 5
    expect(shouldRefreshEarly(e, now, 1, r)).toBe(false); // 500 < 1000
    expect(shouldRefreshEarly(e, now, 2, r)).toBe(true); // 1000 >= 1000
  });

  it('always refreshes once expired, and beta 0 means only then', () => {
    const expired = createEnvelope(1, {}, now - 400_000, 300_000, 100);
    expect(shouldRefreshEarly(expired, now, 1, () => 1)).toBe(true);
    expect(shouldRefreshEarly(e, now, 0, () => 1e-300)).toBe(false);
    expect(shouldRefreshEarly(expired, now, 0, () => 1)).toBe(true);
  });

  it('refreshes with rising probability as expiry nears (seeded)', () => {
    const rate = (remainingMs: number) => {
      const env = createEnvelope(1, {}, now - (300_000 - remainingMs), 300_000, 100);
      let seed = 42;
      const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
      let hits = 0;
      for (let i = 0; i < 10_000; i++) if (shouldRefreshEarly(env, now, 1, random)) hits++;
      return hits / 10_000;
    };
    const [r500, r100, r10] = [rate(500), rate(100), rate(10)];
    expect(r500).toBeLessThan(r100);
    expect(r100).toBeLessThan(r10);
    // P(refresh) = exp(-remaining / (delta * beta)).
    expect(r100).toBeCloseTo(Math.exp(-1), 1);
  });
});
