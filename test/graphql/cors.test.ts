import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { isLoopbackOrigin } from '../../src/http/cors.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/**
 * What a browser is allowed to do from another origin. Closed by default in
 * production and open only to pages of this machine outside it: a web page a
 * person happens to open must not be able to run operations against a server
 * their browser can reach, a developer's own included.
 */
const BROWSER_HEADERS = ['content-type', 'authorization', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id', 'x-freshgraph-debug'];

let production: TestApp;
let listed: TestApp;
let anyOrigin: TestApp;
let development: TestApp;
let developmentListed: TestApp;

beforeAll(async () => {
  [production, listed, anyOrigin, development, developmentListed] = await Promise.all([
    startTestApp({ NODE_ENV: 'production' }),
    startTestApp({ NODE_ENV: 'production', CORS_ORIGINS: 'https://shop.example, http://localhost:5173' }),
    startTestApp({ NODE_ENV: 'production', CORS_ORIGINS: '*' }),
    startTestApp({ NODE_ENV: 'development' }),
    startTestApp({ NODE_ENV: 'development', CORS_ORIGINS: 'https://shop.example' }),
  ]);
});
afterAll(async () => {
  await Promise.all([production, listed, anyOrigin, development, developmentListed].map((app) => app?.close()));
});

const preflight = (app: TestApp, origin: string, requestHeaders = 'content-type') =>
  fetch(app.url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
  });

const post = (app: TestApp, origin: string) =>
  fetch(app.url, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });

const allowedHeaders = (res: Response) =>
  (res.headers.get('access-control-allow-headers') ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h.length > 0);

const corsHeaders = (res: Response) => [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));

describe('CORS in production', () => {
  it('sends no CORS headers at all when CORS_ORIGINS is unset', async () => {
    const pre = await preflight(production, 'https://evil.example', 'content-type, authorization, x-router-secret');
    expect(pre.status).toBe(204);
    expect(corsHeaders(pre)).toEqual([]);
    const res = await post(production, 'https://evil.example');
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual([]);
  });

  it('allows exactly the listed origins, with the headers a browser client needs and never the router secret', async () => {
    const pre = await preflight(listed, 'https://shop.example', 'content-type, authorization, x-router-secret, x-made-up');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
    expect(pre.headers.get('vary')).toMatch(/origin/i);
    expect(allowedHeaders(pre).sort()).toEqual([...BROWSER_HEADERS].sort());
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();

    const second = await preflight(listed, 'http://localhost:5173');
    expect(second.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');

    const res = await post(listed, 'https://shop.example');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(res.headers.get('vary')).toMatch(/origin/i);
  });

  it('gives an unlisted origin nothing, preflight or not', async () => {
    for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'http://shop.example', 'null']) {
      const pre = await preflight(listed, origin, 'content-type, x-router-secret');
      expect(pre.status).toBe(204);
      expect(corsHeaders(pre), origin).toEqual([]);
      const res = await post(listed, origin);
      expect(corsHeaders(res), origin).toEqual([]);
      // Whether the origin is allowed depends on it, so a shared cache must keep them apart.
      expect(res.headers.get('vary')).toMatch(/origin/i);
    }
  });

  it('CORS_ORIGINS=* allows every origin, still with the fixed list of headers', async () => {
    const pre = await preflight(anyOrigin, 'https://anywhere.example', 'content-type, x-router-secret');
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://anywhere.example');
    expect(allowedHeaders(pre)).not.toContain('x-router-secret');
    expect(allowedHeaders(pre).sort()).toEqual([...BROWSER_HEADERS].sort());
  });
});

describe('CORS in development', () => {
  it('allows pages of this machine by default, with the fixed list of headers rather than whatever is asked for', async () => {
    for (const origin of ['http://localhost:3000', 'https://localhost', 'http://127.0.0.1:5173', 'http://[::1]:8080']) {
      const pre = await preflight(development, origin, 'content-type, x-router-secret, x-made-up');
      expect(pre.status, origin).toBe(204);
      expect(pre.headers.get('access-control-allow-origin'), origin).toBe(origin);
      expect(allowedHeaders(pre).sort()).toEqual([...BROWSER_HEADERS].sort());
      const res = await post(development, origin);
      expect(res.headers.get('access-control-allow-origin'), origin).toBe(origin);
    }
  });

  it('gives any other origin nothing by default, so a page from the web cannot run mutations on a developer\'s server', async () => {
    for (const origin of ['https://evil.example', 'http://localhost.evil.example', 'http://127.0.0.1.nip.io', 'http://192.168.1.20:3000', 'null']) {
      const pre = await preflight(development, origin, 'content-type');
      expect(pre.status, origin).toBe(204);
      expect(corsHeaders(pre), origin).toEqual([]);
      const res = await post(development, origin);
      expect(corsHeaders(res), origin).toEqual([]);
      expect(res.headers.get('vary')).toMatch(/origin/i);
    }
  });

  it('follows CORS_ORIGINS when it is set: the listed origins, and then not loopback ones', async () => {
    const shop = await preflight(developmentListed, 'https://shop.example');
    expect(shop.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    const local = await preflight(developmentListed, 'http://localhost:3000');
    expect(corsHeaders(local)).toEqual([]);
  });
});

describe('isLoopbackOrigin', () => {
  it('admits http(s) on localhost, 127.0.0.1 and [::1] on any port, as browsers send them', () => {
    for (const origin of ['http://localhost', 'http://localhost:4000', 'https://localhost:8443', 'http://127.0.0.1:5173', 'http://[::1]:3000', 'https://[::1]']) {
      expect(isLoopbackOrigin(origin), origin).toBe(true);
    }
  });

  it('refuses look-alikes, other schemes and anything a browser would not send as an origin', () => {
    for (const origin of [
      'http://localhost.evil.example',
      'http://evil.example#localhost',
      'http://127.0.0.1.nip.io',
      'http://user@localhost',
      'http://localhost:3000/',
      'http://localhost:3000/app',
      'http://localhost:80',
      'http://LOCALHOST:3000',
      'ws://localhost:3000',
      'file://localhost',
      'null',
      '',
      'localhost:3000',
    ]) {
      expect(isLoopbackOrigin(origin), origin).toBe(false);
    }
  });
});

describe('CORS_ORIGINS', () => {
  it('takes origins (scheme, host and port), * or loopback, and refuses anything else at start', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://shop.example, http://localhost:5173/' }).corsOrigins).toEqual([
      'https://shop.example',
      'http://localhost:5173',
    ]);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
    expect(loadConfig({ NODE_ENV: 'production', CORS_ORIGINS: 'loopback' }).corsOrigins).toBe('loopback');
    // Unset: pages of this machine outside production, none in production.
    expect(loadConfig({}).corsOrigins).toBe('loopback');
    expect(loadConfig({ NODE_ENV: 'test' }).corsOrigins).toBe('loopback');
    expect(loadConfig({ NODE_ENV: 'production' }).corsOrigins).toEqual([]);
    for (const bad of ['shop.example', 'https://shop.example/app', 'ftp://shop.example', '*, https://shop.example', 'loopback, https://shop.example', ' , ']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(ConfigError);
    }
  });
});
