import { describe, expect, it } from 'vitest';
import { AckedOrders, type AckedOrder } from '../../bench/lib/freshness.js';

// The stale-list rule of the bench's list mixed workload (bench/lib/freshness.ts), on made-up histories.
const seeded = (n: number) => Array.from({ length: n }, (_, i) => `seeded-${i}`);
const order = (id: string, createdAtMs: number, sentAt: number, ackedAt: number): AckedOrder => ({ id, createdAtMs, sentAt, ackedAt });

describe('AckedOrders', () => {
  it('counts a list fresh when every acknowledged order is on its page and totalCount is the acknowledged count', () => {
    const acked = new AckedOrders(Int32Array.from([30]));
    acked.record(0, order('a', 1000, 0, 5));
    acked.record(0, order('b', 1010, 6, 9));
    const before = acked.acknowledged(0);
    expect(before).toBe(2);
    expect(acked.check(0, before, 32, ['b', 'a', ...seeded(8)])).toBe('fresh');
  });

  it('calls a totalCount below the acknowledged count stale', () => {
    const acked = new AckedOrders(Int32Array.from([30]));
    acked.record(0, order('a', 1000, 0, 5));
    expect(acked.check(0, 1, 30, ['a', ...seeded(9)])).toBe('count');
    // An order acknowledged after the read was sent is not required.
    expect(acked.check(0, 0, 30, seeded(10))).toBe('fresh');
  });

  it('calls a page that ends in an older order and misses an acknowledged one stale', () => {
    const acked = new AckedOrders(Int32Array.from([30]));
    acked.record(0, order('a', 1000, 0, 5));
    expect(acked.check(0, 1, 31, seeded(10))).toBe('missing');
  });

  it('calls a short page that misses any acknowledged order stale', () => {
    const acked = new AckedOrders(Int32Array.from([2]));
    acked.record(0, order('a', 1000, 0, 5));
    acked.record(0, order('b', 900, 1, 6));
    expect(acked.check(0, 2, 4, ['a', 'seeded-0', 'seeded-1'])).toBe('missing');
    expect(acked.check(0, 2, 4, ['a', 'b', 'seeded-0', 'seeded-1'])).toBe('fresh');
  });

  it('requires only the acknowledged orders newer than the last one on a full page', () => {
    const acked = new AckedOrders(Int32Array.from([0]));
    // Twelve orders acknowledged one after another (each sent after the one before was acknowledged).
    const ids = Array.from({ length: 12 }, (_, i) => `o${i}`);
    ids.forEach((id, i) => acked.record(0, order(id, 1000 + i * 10, i * 10, i * 10 + 5)));
    const newest = [...ids].reverse();
    expect(acked.check(0, 12, 12, newest.slice(0, 10))).toBe('fresh');
    // Skipping o10, newer than the page's last (o1), is stale; o0, older than o1, need not be there.
    expect(acked.check(0, 12, 12, [...newest.slice(0, 1), ...newest.slice(2, 11)])).toBe('missing');
  });

  it('decides between concurrent orders by createdAt, and counts equal milliseconds as not stale', () => {
    const acked = new AckedOrders(Int32Array.from([20]));
    // Sent together, so the acknowledgement order says nothing: createdAt decides.
    acked.record(0, order('late', 2000, 0, 10));
    acked.record(0, order('last', 1999, 1, 11));
    acked.record(0, order('tie', 1999, 2, 12));
    const page = (...head: string[]) => [...head, ...seeded(10 - head.length)].slice(0, 9).concat('last');
    expect(acked.check(0, 3, 23, page('late', 'tie'))).toBe('fresh');
    expect(acked.check(0, 3, 23, page('tie'))).toBe('missing');
    // 'tie' has the same millisecond as the page's last order: which comes first is not known.
    expect(acked.check(0, 3, 23, page('late'))).toBe('fresh');
  });

  it('stops checking an account once a placeOrder of it failed', () => {
    const acked = new AckedOrders(Int32Array.from([5, 5]));
    acked.forget(1);
    expect(acked.check(1, 0, 0, [])).toBe('unchecked');
    expect(acked.check(0, 0, 4, [])).toBe('count');
  });
});
