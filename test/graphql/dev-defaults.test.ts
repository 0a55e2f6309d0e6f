import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/**
 * Outside production the server is reachable from this machine only, and says so
 * at start. Production (0.0.0.0) is checked on the config alone: a test never
 * listens beyond loopback.
 */
let app: TestApp;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  // An empty HOST counts as unset, so this is the default bind address, not the helper's.
  app = await startTestApp(
    { HOST: '', NODE_ENV: 'development', LOG_LEVEL: 'info' },
    { logDestination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) } },
  );
});
afterAll(async () => {
  await app?.close();
});

describe('development defaults', () => {
  it('listen on 127.0.0.1 unless HOST says otherwise; 0.0.0.0 in production', () => {
    const address = app.running.http.address() as AddressInfo;
    expect(address.address).toBe('127.0.0.1');
    expect(app.url).toBe(`http://127.0.0.1:${address.port}/graphql`);
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'test' }).host).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'production' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'production', HOST: '127.0.0.1' }).host).toBe('127.0.0.1');
  });

  it('say at start where the server listens and which origins CORS admits', () => {
    const serving = logs.find((line) => line['msg'] === 'freshgraph is serving');
    expect(serving?.['listen']).toMatch(/^127\.0\.0\.1:\d+, this machine only \(HOST=0\.0\.0\.0 accepts other machines\)$/);
    expect(serving?.['cors']).toBe('loopback origins only: http(s)://localhost, 127.0.0.1 and [::1], any port');
  });
});
