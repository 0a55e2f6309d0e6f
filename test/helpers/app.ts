import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { start, type Running, type StartOptions } from '../../src/main.js';
import { REDIS_URL } from './services.js';

export interface GqlResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly data: T | null | undefined;
  readonly errors: readonly { message: string; extensions?: Record<string, unknown>; path?: unknown[] }[] | undefined;
  readonly extensions?: Record<string, unknown>;
}

export interface TestApp {
  readonly running: Running;
  readonly url: string;
  readonly prefix: string;
  /** A separate connection for looking at (and tampering with) this app's keys. */
  readonly redis: Redis;
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResponse<T>>;
  close(): Promise<void>;
}

/**
 * For tests that count Redis round trips or SQL statements: no repair passes or
 * consistency samples in the background while they count (not even a pass woken
 * by another test file's direct write to the shared database).
 */
export const QUIET_BACKGROUND: Readonly<Record<string, string>> = {
  OUTBOX_REPAIR_INTERVAL_MS: '600000',
  OUTBOX_LISTEN: 'false',
  CONSISTENCY_SAMPLE_INTERVAL_MS: '0',
  CACHE_SHAPES_REFRESH_MS: '600000',
};

export const uniquePrefix = (): string => `fgtest-${randomBytes(5).toString('hex')}`;

/** The real server, in this process, on an ephemeral loopback port, with its own key prefix. */
export async function startTestApp(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestApp> {
  const prefix = env['CACHE_PREFIX'] ?? uniquePrefix();
  const running = await start({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL,
    CACHE_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    // The local copy changes what reaches Redis, which many tests count: on where a test asks for it,
    // or for a whole run with TEST_CACHE_LOCAL_BYTES (the consistency tests run with it on that way).
    CACHE_LOCAL_BYTES: process.env.TEST_CACHE_LOCAL_BYTES ?? '0',
    ...env,
  }, options);
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  return {
    running,
    url: running.url,
    prefix,
    redis,
    gql: (query, variables, headers) => postGraphql(running.url, query, variables, headers),
    async close() {
      await running.shutdown();
      await deleteByPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

export async function postGraphql<T>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GqlResponse<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: { data?: T | null; errors?: GqlResponse['errors']; extensions?: Record<string, unknown> };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`Non-JSON response ${res.status}: ${text.slice(0, 200)}`);
  }
  return { status: res.status, data: body.data, errors: body.errors, extensions: body.extensions };
}

/** Removes every key under `prefix:`; tests never touch keys they did not create. */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Fails the test with the server's errors instead of a confusing undefined. */
export function dataOf<T>(response: GqlResponse<T>): T {
  if (response.errors?.length || !response.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
  }
  return response.data;
}

export const codesOf = (response: GqlResponse<unknown>): unknown[] =>
  (response.errors ?? []).map((e) => e.extensions?.['code']);

let skuCounter = 0;
/** A sku no other test (or run) uses. */
export const uniqueSku = (label = 'SKU'): string =>
  `${label}-${process.pid}-${Date.now().toString(36)}-${(skuCounter++).toString(36)}-${randomBytes(2).toString('hex')}`;
