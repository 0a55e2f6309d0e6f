import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';

// What a client or a router sees of the HTTP layer, pinned so that making the hot path cheaper changes none of it.
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(app.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const QUERY = { query: 'query($id: ID!) { product(id: $id) { id } }', variables: { id: '00000000-0000-7000-8000-000000000000' } };

describe('the HTTP surface', () => {
  it('answers JSON that no cache may store', async () => {
    const res = await post(QUERY);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ data: { product: null } });
  });

  it('answers application/graphql-response+json when asked for it', async () => {
    const res = await post(QUERY, { accept: 'application/graphql-response+json' });
    expect(res.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
  });

  it('serves queries over GET', async () => {
    const search = new URLSearchParams({ query: '{ product(id: "00000000-0000-7000-8000-000000000000") { id } }' });
    const res = await fetch(`${app.url}?${search}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { product: null } });
  });

  it('adds a federated trace (ftv1) only when the router asks for one', async () => {
    const plain = (await (await post(QUERY)).json()) as { extensions?: Record<string, unknown> };
    expect(plain.extensions?.['ftv1']).toBeUndefined();
    const traced = (await (await post(QUERY, { 'apollo-federation-include-trace': 'ftv1' })).json()) as {
      extensions?: Record<string, unknown>;
    };
    expect(typeof traced.extensions?.['ftv1']).toBe('string');
    expect((traced.extensions?.['ftv1'] as string).length).toBeGreaterThan(10);
  });

  it('answers CORS preflights of loopback pages outside production and echoes the origin (see cors.test.ts)', async () => {
    const res = await fetch(app.url, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    // A fixed list of what a browser client needs, not an echo of what was asked for.
    expect(res.headers.get('access-control-allow-headers')).toMatch(/^content-type, /);
  });

  it('rejects bodies that are not JSON, and paths that are not GraphQL, with coded errors', async () => {
    const bad = await post('{"query": ');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('BAD_REQUEST');
    const missing = await fetch(app.url.replace('/graphql', '/nowhere'));
    expect(missing.status).toBe(404);
  });

  it('refuses a body larger than the limit with 413', async () => {
    const res = await post({ query: `{ __typename } #${'x'.repeat(1024 * 1024)}` });
    expect(res.status).toBe(413);
  });

  it('keeps a header that appears twice, as node joins it', async () => {
    const res = await fetch(app.url, {
      method: 'POST',
      headers: [
        ['content-type', 'application/json'],
        ['accept', 'application/json'],
        ['accept', 'application/graphql-response+json'],
      ],
      body: JSON.stringify(QUERY),
    });
    expect(res.status).toBe(200);
  });

  it('refuses a GET that could be a cross-site request (Apollo CSRF prevention)', async () => {
    const search = new URLSearchParams({ query: '{ __typename }' });
    const res = await fetch(`${app.url}?${search}`);
    expect(res.status).toBe(400);
  });
});
