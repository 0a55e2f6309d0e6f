import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { RequestContext } from '../../src/context.js';
import type { FinishedRequest } from '../../src/http/handler.js';
import { createLogger, formatPretty } from '../../src/logger.js';
import { createRequestObserver } from '../../src/ops/request-log.js';

/** A destination that keeps what it is given; `isTTY` makes it look like a terminal. */
function capture(isTTY = false) {
  const chunks: string[] = [];
  return { chunks, destination: { isTTY, write: (chunk: string) => void chunks.push(chunk) } };
}

const finished = (overrides: Partial<FinishedRequest<RequestContext>> = {}): FinishedRequest<RequestContext> => ({
  requestId: '5f0c2a1e-0000-4000-8000-000000000001',
  method: 'POST',
  path: '/graphql',
  status: 200,
  durationMs: 2.4137,
  context: undefined,
  refusal: undefined,
  ...overrides,
});

const ANSI = /\u001b\[/;

describe('createLogger', () => {
  it('writes JSON to a destination that is not a terminal, as tests and pipes get', () => {
    const out = capture();
    createLogger('info', { destination: out.destination }).info({ n: 1 }, 'hello');
    expect(JSON.parse(out.chunks[0] ?? '')).toMatchObject({ level: 30, n: 1, msg: 'hello', name: 'freshgraph' });
  });

  it('writes readable lines, in colour, to a terminal, and JSON there too when asked', () => {
    const tty = capture(true);
    createLogger('info', { destination: tty.destination }).warn({ component: 'cache' }, 'redis is slow');
    expect(tty.chunks[0]).toMatch(ANSI);
    expect(tty.chunks[0]?.replace(/\u001b\[\d+m/g, '')).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  \[cache\] redis is slow\n$/);

    const json = capture(true);
    createLogger('info', { destination: json.destination, format: 'json' }).info('x');
    expect(JSON.parse(json.chunks[0] ?? '')).toMatchObject({ msg: 'x' });
  });

  it('logs a request as one line: method, path, operation, status, duration, cache counts and request id', () => {
    const out = capture();
    const observe = createRequestObserver(createLogger('info', { destination: out.destination, format: 'pretty' }), undefined);
    observe(finished());
    observe(finished({ method: 'GET', path: '/nowhere', status: 404, durationMs: 0.3, refusal: 'NOT_FOUND' }));
    expect(out.chunks).toHaveLength(2);
    expect(out.chunks[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  POST \/graphql 200 2\.41ms req=5f0c2a1e-0000-4000-8000-000000000001\n$/);
    expect(out.chunks[1]).toMatch(/ INFO  GET \/nowhere 404 0\.3ms req=\S+ errors=NOT_FOUND\n$/);
    expect(ANSI.test(out.chunks.join(''))).toBe(false);
  });

  it('keeps the request columns in order with an operation, and hits and misses after them', () => {
    const line = formatPretty(
      JSON.stringify({ level: 30, time: 0, msg: 'request', reqId: 'r-1', method: 'POST', path: '/graphql', operation: 'ProductBySku', type: 'query', status: 200, durationMs: 1.5, cacheHits: 1, cacheMisses: 0 }),
    );
    expect(line).toMatch(/ INFO  POST \/graphql query ProductBySku 200 1\.5ms req=r-1 cacheHits=1 cacheMisses=0\n$/);
  });

  it('redacts secrets in both formats', () => {
    for (const format of ['json', 'pretty'] as const) {
      const out = capture();
      createLogger('info', { destination: out.destination, format }).info(
        { headers: { authorization: 'Bearer token-aaaaaaaaaaaaaaaa' }, config: { routerSecret: 'router-secret-0000' } },
        'careless',
      );
      const text = out.chunks.join('');
      expect(text, format).toContain('[redacted]');
      expect(text, format).not.toContain('token-aaaaaaaaaaaaaaaa');
      expect(text, format).not.toContain('router-secret-0000');
    }
  });

  it('keeps whatever a client chose on its own line: an operation name cannot forge another', () => {
    const line = formatPretty(
      JSON.stringify({ level: 30, time: 0, msg: 'request', reqId: 'r', method: 'POST', path: '/graphql', operation: 'A\n00:00:00.000 ERROR  forged', status: 200 }),
    );
    expect(line.split('\n')).toEqual([expect.stringContaining('"A\\n00:00:00.000 ERROR  forged"'), '']);
    expect(formatPretty(JSON.stringify({ level: 30, time: 0, msg: 'two\nlines' }))).toMatch(/ INFO  two\\nlines\n$/);
  });

  it('shows an error with its message inline and its stack below, lists and objects compactly, and lines that are not JSON as they are', () => {
    const err = new Error('boom');
    const line = formatPretty(JSON.stringify({ level: 50, time: 0, msg: 'failed', err: { type: 'Error', message: err.message, stack: err.stack } }));
    const [first, second] = line.split('\n');
    expect(first).toMatch(/ ERROR failed err=boom$/);
    expect(second).toMatch(/^ {4}at /);
    expect(formatPretty('not json\n')).toBe('not json\n');
    expect(formatPretty(JSON.stringify({ level: 30, time: 0, msg: 'm', none: [], some: ['a', 'b'], nested: { a: 1 } }))).toMatch(/ m none=\[\] some=a,b nested=\{"a":1\}\n$/);
  });
});

describe('LOG_FORMAT', () => {
  it('is json or pretty, unset by default (the logger then asks the terminal), and always json in production', () => {
    expect(loadConfig({}).logFormat).toBeUndefined();
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'production' }).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'production', LOG_FORMAT: 'pretty' }).logFormat).toBe('json');
    expect(() => loadConfig({ LOG_FORMAT: 'fancy' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_FORMAT: 'fancy' })).toThrow(/LOG_FORMAT/);
  });
});
