import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { checkReadiness, coalescedReadiness, withServing, type Readiness } from '../../src/ops/readiness.js';
import { WriteShareAlarm, WriteShareWindow } from '../../src/ops/write-share.js';
import { secretMatcher } from '../../src/plugins/access-control.js';

describe('write share window', () => {
  it('is writes / (reads + writes) over the last window, forgetting older seconds', () => {
    const window = new WriteShareWindow(60);
    const t0 = 1_000_000_000_000;
    expect(window.totals(t0)).toEqual({ reads: 0, writes: 0, share: 0 });
    window.record(90, 0, t0);
    window.record(0, 10, t0 + 500);
    expect(window.totals(t0 + 1000)).toEqual({ reads: 90, writes: 10, share: 0.1 });
    window.record(0, 30, t0 + 30_000);
    expect(window.totals(t0 + 30_000).share).toBeCloseTo(40 / 130);
    // 60 s later the first second has left the window.
    expect(window.totals(t0 + 60_000)).toEqual({ reads: 0, writes: 30, share: 1 });
    // A bucket reused after a full turn starts from zero.
    window.record(5, 0, t0 + 120_000);
    expect(window.totals(t0 + 120_000)).toEqual({ reads: 5, writes: 0, share: 0 });
  });
});

describe('write share alarm', () => {
  const setup = () => {
    const window = new WriteShareWindow(60);
    const alarm = new WriteShareAlarm(window, { threshold: 0.25, minOperations: 100 });
    return { window, alarm };
  };
  const fill = (window: WriteShareWindow, from: number, to: number, reads: number, writes: number) => {
    for (let t = from; t < to; t += 1000) window.record(reads, writes, t);
  };

  it('warns only after the share stayed above the threshold for a whole window, then once per window', () => {
    const { window, alarm } = setup();
    const t0 = 1_000_000_000_000;
    fill(window, t0, t0 + 120_000, 6, 4); // 40 % writes throughout
    expect(alarm.check(t0 + 10_000).verdict).toBeUndefined();
    expect(alarm.check(t0 + 40_000).verdict).toBeUndefined();
    expect(alarm.check(t0 + 70_000).verdict).toBe('warn');
    expect(alarm.check(t0 + 80_000).verdict).toBeUndefined();
    expect(alarm.check(t0 + 130_000).verdict).toBe('warn');
    fill(window, t0 + 130_000, t0 + 200_000, 10, 0);
    expect(alarm.check(t0 + 200_000).verdict).toBe('recovered');
    expect(alarm.check(t0 + 210_000).verdict).toBeUndefined();
  });

  it('says nothing on too few operations, or when the share dips in between', () => {
    const { window, alarm } = setup();
    const t0 = 2_000_000_000_000;
    fill(window, t0, t0 + 90_000, 0, 1); // 100 % writes, but about 60 operations per window
    expect(alarm.check(t0 + 89_000).verdict).toBeUndefined();
    const other = setup();
    fill(other.window, t0, t0 + 30_000, 6, 4);
    expect(other.alarm.check(t0 + 30_000).verdict).toBeUndefined();
    fill(other.window, t0 + 30_000, t0 + 50_000, 100, 0);
    expect(other.alarm.check(t0 + 50_000).verdict).toBeUndefined(); // back under: the clock restarts
    fill(other.window, t0 + 50_000, t0 + 200_000, 1, 9);
    expect(other.alarm.check(t0 + 100_000).verdict).toBeUndefined();
    expect(other.alarm.check(t0 + 160_000).verdict).toBe('warn');
  });
});

describe('readiness', () => {
  it('names what failed or timed out, within the bound', async () => {
    const began = Date.now();
    const result = await checkReadiness(
      [
        { name: 'database', run: async () => undefined },
        { name: 'cache', run: () => new Promise(() => {}) },
        { name: 'other', run: async () => Promise.reject(new Error('boom')) },
      ],
      100,
    );
    expect(Date.now() - began).toBeLessThan(1000);
    expect(result.ready).toBe(false);
    expect(result.checks).toEqual({ database: 'ok', cache: 'timeout', other: 'error' });
    expect((result.errors['other'] as Error).message).toBe('boom');
    expect((await checkReadiness([{ name: 'database', run: async () => 1 }], 100)).ready).toBe(true);
  });
});

describe('coalesced readiness', () => {
  const ok: Readiness = { ready: true, checks: { database: 'ok' }, errors: {} };

  it('shares one check among concurrent probes and reuses its result for reuseMs, failures included', async () => {
    let clock = 0;
    let runs = 0;
    let release: (r: Readiness) => void = () => {};
    const ready = coalescedReadiness(
      () => {
        runs++;
        return new Promise<Readiness>((resolve) => (release = resolve));
      },
      1000,
      () => clock,
    );
    const concurrent = [ready(), ready(), ready()];
    expect(runs).toBe(1);
    release(ok);
    expect(await Promise.all(concurrent)).toEqual([ok, ok, ok]);
    clock = 999;
    expect(await ready()).toBe(ok);
    expect(runs).toBe(1);
    clock = 1000;
    const again = ready();
    expect(runs).toBe(2);
    const down: Readiness = { ready: false, checks: { database: 'timeout' }, errors: {} };
    release(down);
    expect(await again).toBe(down);
    clock = 1500;
    expect(await ready()).toBe(down);
    expect(runs).toBe(2);
  });

  it('adds the serving state, never reused: a draining instance is unready at once', () => {
    expect(withServing(ok, true)).toEqual({ ready: true, checks: { serving: 'ok', database: 'ok' }, errors: {} });
    const draining = withServing(ok, false);
    expect(draining.ready).toBe(false);
    expect(draining.checks).toEqual({ serving: 'error', database: 'ok' });
  });
});

describe('secret matcher', () => {
  it('accepts exactly the configured secrets', () => {
    const matches = secretMatcher(['first-secret-000000', 'second-secret-11111']);
    expect(matches('first-secret-000000')).toBe(true);
    expect(matches('second-secret-11111')).toBe(true);
    for (const wrong of [undefined, '', 'first-secret-00000', 'first-secret-0000000', 'FIRST-secret-000000', 'second-secret-11111 ']) {
      expect(matches(wrong)).toBe(false);
    }
    expect(secretMatcher([])('anything')).toBe(false);
  });
});

describe('config of the operations issue', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      maxDepth: 8,
      maxAliases: 15,
      maxDirectives: 50,
      maxTokens: 1000,
      maxCost: 1000,
      maxBodyBytes: 1024 * 1024,
      introspection: true,
      routerSecret: undefined,
      writeTokens: [],
      debugExtensions: false,
      readyTimeoutMs: 1000,
      writeShareWindowSeconds: 60,
      writeShareWarn: 0.25,
    });
  });

  it('reads limits, tokens and switches; production turns introspection and the debug view off', () => {
    const config = loadConfig({
      MAX_DEPTH: '4',
      MAX_COST: '50',
      MAX_BODY_BYTES: '2048',
      WRITE_TOKENS: ' token-aaaaaaaaaaaaaaaa ,token-bbbbbbbbbbbbbbbb, ',
      DEBUG_EXTENSIONS: 'true',
    });
    expect(config).toMatchObject({ maxDepth: 4, maxCost: 50, maxBodyBytes: 2048, debugExtensions: true });
    expect(config.writeTokens).toEqual(['token-aaaaaaaaaaaaaaaa', 'token-bbbbbbbbbbbbbbbb']);
    const production = loadConfig({ NODE_ENV: 'production', DEBUG_EXTENSIONS: 'true' });
    expect(production).toMatchObject({ introspection: false, debugExtensions: false });
    expect(loadConfig({ NODE_ENV: 'production', INTROSPECTION: 'true' }).introspection).toBe(true);
  });

  it('refuses weak secrets and bad switches without echoing them', () => {
    const attempt = () => loadConfig({ ROUTER_SECRET: 'short-secret', WRITE_TOKENS: 'tiny', DEBUG_EXTENSIONS: 'yes', MAX_DEPTH: '0' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toMatch(/ROUTER_SECRET/);
      expect(message).toMatch(/WRITE_TOKENS/);
      expect(message).toMatch(/DEBUG_EXTENSIONS/);
      expect(message).toMatch(/MAX_DEPTH/);
      expect(message).not.toContain('short-secret');
      expect(message).not.toContain('tiny');
    }
  });
});
