import { Redis, type RedisOptions } from 'ioredis';
import { leaseKeyOf } from './keys.js';
import { casOutcomeOf as outcomeOf, defineCacheScripts } from './redis-scripts.js';
import type { CacheStore, CasOutcome, CasWrite, LeaseRequest, StoreBatch } from './store.js';

export interface RedisStoreOptions {
  readonly url: string;
  /** Bound on every command; a slow Redis becomes an error, never a hung request. @default 500 */
  readonly commandTimeoutMs?: number;
  /** Bound on each connection attempt, and on the wait in connect(). @default 2000 */
  readonly connectTimeoutMs?: number;
  /** Called for connection-level errors, which ioredis reports as events. */
  readonly onConnectionError?: (err: Error) => void;
}

/** The store on one Redis server; cluster-store.ts is the one on a Redis Cluster. */
export class RedisStore implements CacheStore {
  readonly kind = 'redis';
  readonly retains = true;
  readonly client: Redis;
  private readonly connectTimeoutMs: number;
  // Ends a connect() in progress: between retries ioredis emits nothing when it is disconnected.
  private readonly closing = new AbortController();

  constructor(options: RedisStoreOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    const redisOptions: RedisOptions = {
      commandTimeout: options.commandTimeoutMs ?? 500,
      // Bounds each attempt's TCP connect; connect() bounds the whole wait for 'ready' by the same time.
      connectTimeout: this.connectTimeoutMs,
      // No unbounded queue while disconnected: callers fall back to the database instead.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Concurrent requests' reads share one write to the socket.
      enableAutoPipelining: true,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
      lazyConnect: true,
    };
    this.client = new Redis(options.url, redisOptions);
    defineCacheScripts(this.client);
    this.client.on('error', options.onConnectionError ?? (() => {}));
  }

  /**
   * Resolves once Redis is ready, or rejects after `connectTimeoutMs` (sooner if the client stops
   * for good); a refused attempt does not end the wait, since the next retry may still make it in time.
   * After a timeout the client goes on reconnecting in the background, until close().
   */
  async connect(): Promise<void> {
    const client = this.client;
    if (client.status === 'ready') return;
    if (this.closing.signal.aborted) throw new Error('the Redis store is closed');
    const where = client.options.path ?? `${client.options.host}:${client.options.port}`;
    await new Promise<void>((resolve, reject) => {
      let lastError: Error | undefined;
      const cause = () => (lastError === undefined ? '' : ` (last error: ${lastError.message})`);
      const onError = (err: Error) => {
        lastError = err;
      };
      const onReady = () => {
        settle();
        resolve();
      };
      const onEnd = () => {
        settle();
        reject(new Error(`Redis at ${where} closed the connection and will not retry${cause()}`));
      };
      const onClose = () => {
        settle();
        reject(new Error(`the Redis store was closed before Redis at ${where} became ready`));
      };
      const timer = setTimeout(() => {
        settle();
        reject(new Error(`Redis at ${where} did not become ready within ${this.connectTimeoutMs} ms${cause()}; is it running there?`));
      }, this.connectTimeoutMs);
      // Every listener goes when the wait ends, whichever way: a store that is reconnected often must not collect them.
      const settle = () => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('error', onError);
        client.off('end', onEnd);
        this.closing.signal.removeEventListener('abort', onClose);
      };
      client.on('ready', onReady);
      client.on('error', onError);
      client.on('end', onEnd);
      this.closing.signal.addEventListener('abort', onClose);
      // 'wait' (lazyConnect) and 'end' retry nothing until connect() is called. Its promise rejects at
      // the first failed attempt, which the wait above outlives.
      if (client.status === 'wait' || client.status === 'end') client.connect().catch(() => {});
    });
  }

  async read(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return this.client.mget(keys as string[]);
  }

  async acquireLeases(keys: readonly string[], lease: LeaseRequest): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const taken = await this.client.acquireLeases(keys.length, ...keys.map(leaseKeyOf), lease.token, lease.ttlMs);
    return taken.map((t) => t === 1);
  }

  async releaseLeases(keys: readonly string[], token: string): Promise<void> {
    if (keys.length === 0) return;
    await this.client.releaseLeases(keys.length, ...keys.map(leaseKeyOf), token);
  }

  async apply(batch: StoreBatch): Promise<CasOutcome[]> {
    const deletes = batch.deletes ?? [];
    if (batch.writes.length === 0 && deletes.length === 0) return [];
    const only = batch.writes.length === 1 && deletes.length === 0 ? batch.writes[0] : undefined;
    if (only) {
      // One command needs no pipeline object, which costs more than the command itself.
      return [outcomeOf(await this.client.casWrite(only.key, leaseKeyOf(only.key), only.value, only.version, only.ttlMs))];
    }
    const pipeline = this.client.pipeline();
    for (const w of batch.writes) pipeline.casWrite(w.key, leaseKeyOf(w.key), w.value, w.version, w.ttlMs);
    if (deletes.length > 0) pipeline.del(...deletes, ...deletes.map(leaseKeyOf));
    return outcomesOf(await pipeline.exec(), batch.writes.length);
  }

  async fill(writes: readonly CasWrite[], token: string): Promise<CasOutcome[]> {
    if (writes.length === 0) return [];
    const [only] = writes;
    if (writes.length === 1 && only) {
      return [outcomeOf(await this.client.casFill(only.key, leaseKeyOf(only.key), only.value, only.version, only.ttlMs, token))];
    }
    const pipeline = this.client.pipeline();
    for (const w of writes) pipeline.casFill(w.key, leaseKeyOf(w.key), w.value, w.version, w.ttlMs, token);
    return outcomesOf(await pipeline.exec(), writes.length);
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    this.closing.abort();
    if (this.client.status === 'end') return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

function outcomesOf(replies: [Error | null, unknown][] | null, count: number): CasOutcome[] {
  if (replies === null) throw new Error('Redis pipeline was discarded');
  return Array.from({ length: count }, (_, i) => {
    const [err, reply] = replies[i] ?? [new Error('missing pipeline reply'), null];
    if (err) throw err;
    return outcomeOf(reply);
  });
}
