import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { codesOf, dataOf, startTestApp, type TestApp } from '../helpers/app.js';

const INTROSPECTION = '{ __schema { queryType { name } } }';

const browserGet = (url: string) => fetch(url, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
const origin = (app: TestApp) => new URL(app.url).origin;

let dev: TestApp;
let prod: TestApp;
let prodIntrospection: TestApp;
beforeAll(async () => {
  [dev, prod, prodIntrospection] = await Promise.all([
    startTestApp(),
    startTestApp({ NODE_ENV: 'production' }),
    startTestApp({ NODE_ENV: 'production', INTROSPECTION: 'true' }),
  ]);
});
afterAll(async () => {
  await Promise.all([dev?.close(), prod?.close(), prodIntrospection?.close()]);
});

describe('outside production', () => {
  it('serves Apollo Sandbox, with the example operation, to a browser at /graphql and /', async () => {
    for (const path of ['/graphql', '/']) {
      const res = await browserGet(origin(dev) + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html).toContain('embeddable-sandbox');
      expect(html).toContain('ProductBySku');
      expect(html).toContain('ANVIL-1');
    }
  });

  it('answers introspection', async () => {
    expect(dataOf(await dev.gql(INTROSPECTION))).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('keeps CSRF prevention: a simple GET needs apollo-require-preflight, a POST needs a JSON content type', async () => {
    const get = (headers: Record<string, string>) => fetch(`${dev.url}?query=${encodeURIComponent('{ __typename }')}`, { headers });
    const blocked = await get({});
    expect(blocked.status).toBe(400);
    expect(await blocked.text()).toMatch(/Cross-Site Request Forgery/);
    const allowed = await get({ 'apollo-require-preflight': 'true' });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ data: { __typename: 'Query' } });

    // A simple (preflight-free) POST is refused before Apollo even sees it.
    const textPost = await fetch(dev.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' });
    expect(textPost.status).toBe(415);
    expect((await dev.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });
});

describe('in production', () => {
  it('serves no landing page', async () => {
    for (const app of [prod, prodIntrospection]) {
      for (const path of ['/graphql', '/']) {
        const res = await browserGet(origin(app) + path);
        expect(res.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
        expect(res.status).toBe(400);
        expect(await res.text()).not.toMatch(/sandbox|<html/i);
      }
    }
  });

  it('refuses introspection unless INTROSPECTION=true, and still serves _service for routers and composition', async () => {
    expect(codesOf(await prod.gql(INTROSPECTION))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(dataOf(await prodIntrospection.gql(INTROSPECTION))).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const sdl = dataOf(await prod.gql<{ _service: { sdl: string } }>('{ _service { sdl } }'))._service.sdl;
    expect(sdl).toContain('type Product @key(fields: "id")');
  });
});

describe('configuration', () => {
  it('derives introspection and Sandbox from NODE_ENV, with INTROSPECTION as the override', () => {
    const pick = (env: Record<string, string>) => {
      const c = loadConfig(env);
      return { introspection: c.introspection, sandbox: c.sandbox };
    };
    expect(pick({})).toEqual({ introspection: true, sandbox: true });
    expect(pick({ INTROSPECTION: 'false' })).toEqual({ introspection: false, sandbox: true });
    expect(pick({ NODE_ENV: 'production' })).toEqual({ introspection: false, sandbox: false });
    expect(pick({ NODE_ENV: 'production', INTROSPECTION: 'true' })).toEqual({ introspection: true, sandbox: false });
    expect(pick({ NODE_ENV: 'production', INTROSPECTION: '' })).toEqual({ introspection: false, sandbox: false });
    expect(() => loadConfig({ INTROSPECTION: 'yes' })).toThrow(ConfigError);
    expect(() => loadConfig({ INTROSPECTION: 'yes' })).toThrow(/INTROSPECTION/);
  });
});
