import { describe, expect, it } from 'vitest';
import { Admission, type AdmissionOptions } from '../../src/plugins/admission.js';

/** Timers that fire when the test says so. */
function manualTimers() {
  const pending = new Set<() => void>();
  const setTimer: AdmissionOptions['setTimer'] = (run) => {
    pending.add(run);
    return { cancel: () => void pending.delete(run) };
  };
  return {
    setTimer,
    get pending() {
      return pending.size;
    },
    /** Fires the oldest timer still pending. */
    fireOldest: () => {
      const [run] = pending;
      if (run === undefined) throw new Error('no timer pending');
      pending.delete(run);
      run();
    },
  };
}

const settled = async (promise: Promise<boolean>): Promise<boolean | 'pending'> =>
  Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);

describe('admission', () => {
  const make = () => {
    const timers = manualTimers();
    return { timers, admission: new Admission({ budget: 100, lightCost: 5, maxWaitMs: 1000, setTimer: timers.setTimer }) };
  };

  it('admits heavy requests while their costs fit the budget, the next in line as soon as one leaves', async () => {
    const { admission } = make();
    const a = admission.enter(60);
    const b = admission.enter(40);
    const c = admission.enter(30);
    expect(await settled(a.admitted)).toBe(true);
    expect(await settled(b.admitted)).toBe(true);
    expect(await settled(c.admitted)).toBe('pending');
    expect(admission.inFlight).toBe(100);
    admission.leave(a);
    expect(await settled(c.admitted)).toBe(true);
    expect(admission.inFlight).toBe(70);
  });

  it('never makes a light request wait, however full the budget', async () => {
    const { admission } = make();
    admission.enter(100);
    admission.enter(100);
    expect(await settled(admission.enter(5).admitted)).toBe(true);
    expect(admission.tryEnter(5)).toBeDefined();
    expect(admission.tryEnter(6)).toBeUndefined();
  });

  it('serves the line first come, first served: a small request does not pass a big one waiting', async () => {
    const { admission } = make();
    const first = admission.enter(90);
    const big = admission.enter(80);
    const small = admission.enter(10);
    expect(await settled(small.admitted)).toBe('pending');
    admission.leave(first);
    expect(await settled(big.admitted)).toBe(true);
    expect(await settled(small.admitted)).toBe(true);
  });

  it('admits one request alone even when it is over the budget', async () => {
    const { admission } = make();
    expect(await settled(admission.enter(500).admitted)).toBe(true);
  });

  it('refuses a request that waited maxWaitMs, and lets the ones behind it move up', async () => {
    const { admission, timers } = make();
    const running = admission.enter(50);
    const stuck = admission.enter(60);
    const behind = admission.enter(40);
    expect(await settled(behind.admitted)).toBe('pending');
    timers.fireOldest();
    expect(await settled(stuck.admitted)).toBe(false);
    expect(await settled(behind.admitted)).toBe(true);
    expect(admission.waiting).toBe(0);
    expect(timers.pending).toBe(0);
    admission.leave(running);
    admission.leave(behind);
    expect(admission.inFlight).toBe(0);
  });

  it('gives a place in line back when its request is answered before its turn (another check refused it)', async () => {
    const { admission, timers } = make();
    const running = admission.enter(100);
    const gaveUp = admission.enter(10);
    const next = admission.enter(20);
    admission.leave(gaveUp);
    expect(await settled(gaveUp.admitted)).toBe(false);
    expect(timers.pending).toBe(1);
    admission.leave(running);
    expect(await settled(next.admitted)).toBe(true);
    // Leaving twice, or a ticket it never held, changes nothing.
    admission.leave(running);
    admission.leave(gaveUp);
    expect(admission.inFlight).toBe(20);
  });
});
