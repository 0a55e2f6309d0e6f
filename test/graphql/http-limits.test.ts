import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { postChunked, rawFetch } from '../helpers/http.js';

/**
 * The HTTP layer bounds what one connection can hold: nothing is read that
 * will be refused anyway, a refused body is never drained, and slow or idle
 * connections end. Each case talks to the server over a raw socket, exactly
 * as a slow or hostile client would; no timing is asserted, only what happens.
 */

/** A raw connection and everything the server sent on it, until it closed. */
interface Conversation {
  readonly socket: Socket;
  /** Resolves with all bytes received once the server has closed the connection. */
  readonly closed: Promise<string>;
  /** Resolves once `text` has arrived. */
  received(text: RegExp): Promise<string>;
}

function converse(url: string): Promise<Conversation> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let data = '';
    const waiters: { pattern: RegExp; resolve: (text: string) => void }[] = [];
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      for (const w of waiters.splice(0)) {
        if (w.pattern.test(data)) w.resolve(data);
        else waiters.push(w);
      }
    });
    // The server may close while we write; what it said before is what counts.
    socket.on('error', () => undefined);
    const closed = new Promise<string>((done) => socket.on('close', () => done(data)));
    socket.once('connect', () =>
      resolve({
        socket,
        closed,
        received: (pattern) =>
          new Promise((done) => {
            if (pattern.test(data)) done(data);
            else waiters.push({ pattern, resolve: done });
          }),
      }),
    );
    socket.once('error', reject);
  });
}

const head = (lines: string[]) => `${['POST /graphql HTTP/1.1', 'host: 127.0.0.1', ...lines].join('\r\n')}\r\n\r\n`;

describe('refusals before the body', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('a wrong content type is refused (415) from the headers alone, and the unread body ends the connection', async () => {
    const c = await converse(app.url);
    // Declares 1000 bytes, sends 10: the answer must not wait for the other 990.
    c.socket.write(head(['content-type: text/plain', 'content-length: 1000']) + '{"query":"');
    const text = await c.closed;
    expect(text).toMatch(/^HTTP\/1\.1 415 /);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
    expect(text).toMatch(/"code":"BAD_REQUEST"/);
  });

  it('a method other than GET and POST is refused (405) the same way', async () => {
    const c = await converse(app.url);
    c.socket.write(`${head(['content-type: application/json', 'content-length: 1000']).replace('POST', 'PUT')}{"query":"`);
    const text = await c.closed;
    expect(text).toMatch(/^HTTP\/1\.1 405 /);
    expect(text).toMatch(/\r\nallow: GET, POST\r\n/i);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('so are the platform routes (405 for a POST to /metrics) and unknown paths (404)', async () => {
    for (const path of ['/metrics', '/nowhere']) {
      const c = await converse(app.url);
      c.socket.write(`${head(['content-type: application/json', 'content-length: 1000']).replace('/graphql', path)}{"query":"`);
      const text = await c.closed;
      expect(text).toMatch(/^HTTP\/1\.1 40[45] /);
      expect(text).toMatch(/\r\nconnection: close\r\n/i);
    }
  });

  it('a declared body over MAX_BODY_BYTES gets 413 with connection: close, and the socket is closed without reading the rest', async () => {
    const c = await converse(app.url);
    c.socket.write(head(['content-type: application/json', 'content-length: 100000000000']) + 'x'.repeat(4096));
    // We send nothing more: only the server can end this conversation.
    const text = await c.closed;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
    expect(text).toMatch(/"code":"BAD_REQUEST"/);
  });

  it('a streamed body that passes MAX_BODY_BYTES gets 413 and the connection is closed', async () => {
    const c = await converse(app.url);
    c.socket.write(head(['content-type: application/json', 'transfer-encoding: chunked']));
    const chunk = 'y'.repeat(64 * 1024);
    for (let i = 0; i < 20; i++) c.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const text = await c.closed;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('ordinary clients still read the 413 (fetch and a streaming client)', async () => {
    const big = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(1024 * 1024) } });
    for (let i = 0; i < 5; i++) {
      const res = await rawFetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
      expect(res.status).toBe(413);
      expect(res.json?.errors?.[0]?.extensions?.['code']).toBe('BAD_REQUEST');
      const streamed = await postChunked(app.url, 'x'.repeat(64 * 1024), 40);
      expect(streamed.status).toBe(413);
    }
  });

  it('keeps the connection open after a refusal whose body was read in full', async () => {
    const c = await converse(app.url);
    const body = '{"query": ';
    c.socket.write(head(['content-type: application/json', `content-length: ${body.length}`]) + body);
    const text = await c.received(/\r\n\r\n\{.*\}/s);
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).not.toMatch(/\r\nconnection: close\r\n/i);
    c.socket.destroy();
  });
});

describe('client aborts', () => {
  let app: TestApp;
  const lines: { level: number; msg: string }[] = [];
  beforeAll(async () => {
    app = await startTestApp(
      { LOG_LEVEL: 'debug' },
      { logDestination: { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) } },
    );
  });
  afterAll(async () => {
    await app?.close();
  });

  it('a client that hangs up mid-body is logged at debug, not as an error', async () => {
    const arrived = once(app.running.http, 'request');
    const c = await converse(app.url);
    c.socket.write(head(['content-type: application/json', 'content-length: 1000']) + '{"query": "{ __typename');
    // Once the server has the request (and is reading its body), hang up.
    await arrived;
    c.socket.destroy();
    for (;;) {
      const seen = lines.find((l) => /client closed|outside GraphQL/.test(l.msg));
      if (seen) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(lines.find((l) => /client closed/.test(l.msg))?.level).toBe(20);
  });
});

describe('timeouts', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ HEADERS_TIMEOUT_MS: '400', REQUEST_TIMEOUT_MS: '800', KEEP_ALIVE_TIMEOUT_MS: '300' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('are applied to the server', () => {
    const { http } = app.running;
    expect(http.headersTimeout).toBe(400);
    expect(http.requestTimeout).toBe(800);
    expect(http.keepAliveTimeout).toBe(300);
  });

  it('a client that never finishes its headers gets 408 and the connection ends (HEADERS_TIMEOUT_MS)', async () => {
    const c = await converse(app.url);
    c.socket.write('POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    expect(await c.closed).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a client that never finishes its body gets 408 and the connection ends (REQUEST_TIMEOUT_MS)', async () => {
    const c = await converse(app.url);
    c.socket.write(head(['content-type: application/json', 'content-length: 100']) + '{"query":');
    expect(await c.closed).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('an idle keep-alive connection is closed after KEEP_ALIVE_TIMEOUT_MS', async () => {
    const c = await converse(app.url);
    const body = '{"query":"{ __typename }"}';
    c.socket.write(head(['content-type: application/json', `content-length: ${body.length}`]) + body);
    const text = await c.closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toMatch(/keep-alive/i);
  });

});

describe('the connection cap', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ MAX_CONNECTIONS: '3' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('connections beyond MAX_CONNECTIONS are closed at once, and served again once others leave', async () => {
    expect(app.running.http.maxConnections).toBe(3);
    const held = await Promise.all([converse(app.url), converse(app.url), converse(app.url)]);
    // Each holds its connection with a request that is still arriving.
    for (const c of held) c.socket.write('POST /graphql HTTP/1.1\r\n');
    const extra = await converse(app.url);
    extra.socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    expect(await extra.closed).toBe('');
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    for (;;) {
      const res = await rawFetch(new URL('/healthz', app.url).toString()).catch(() => undefined);
      if (res?.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});

describe('configuration', () => {
  it('refuses a headers timeout longer than the request timeout', () => {
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '1000' })).toThrow(ConfigError);
    const defaults = loadConfig({});
    expect([defaults.requestTimeoutMs, defaults.headersTimeoutMs, defaults.keepAliveTimeoutMs, defaults.maxConnections]).toEqual([30_000, 10_000, 75_000, 10_000]);
  });
});
