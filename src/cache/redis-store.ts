import { Redis, type RedisOptions, type Result } from 'ioredis';
import { CAS_ENVELOPE_LUA } from './cas-script.js';
import type { CacheStore, CasOutcome, StoreBatch } from './store.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See cas-script.ts. */
    casEnvelope(key: string, value: string, version: number, ttlMs: number): Result<number, Context>;
  }
}

export interface RedisStoreOptions {
  readonly url: string;
  /** Bound on every command; a slow Redis becomes an error, never a hung request. @default 500 */
  readonly commandTimeoutMs?: number;
  /** @default 2000 */
  readonly connectTimeoutMs?: number;
  /** Called for connection-level errors, which ioredis reports as events. */
  readonly onConnectionError?: (err: Error) => void;
}

const OUTCOMES: Record<number, CasOutcome> = { 0: 'rejected', 1: 'written', 2: 'refreshed' };

/** The only module that talks to Redis. */
export class RedisStore implements CacheStore {
  readonly kind = 'redis';
  readonly client: Redis;

  constructor(options: RedisStoreOptions) {
    const redisOptions: RedisOptions = {
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      // No unbounded queue while disconnected: callers fall back to the database instead.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Concurrent requests' MGETs share one write to the socket.
      enableAutoPipelining: true,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
      lazyConnect: true,
    };
    this.client = new Redis(options.url, redisOptions);
    this.client.defineCommand('casEnvelope', { numberOfKeys: 1, lua: CAS_ENVELOPE_LUA });
    const onError = options.onConnectionError ?? (() => {});
    this.client.on('error', onError);
  }

  /** Connects, or rejects after the connect timeout; the client keeps retrying in the background. */
  async connect(): Promise<void> {
    if (this.client.status === 'ready') return;
    if (this.client.status === 'wait') {
      await this.client.connect();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Redis did not become ready in time')), 5000);
      this.client.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async mget(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return this.client.mget(keys as string[]);
  }

  async apply(batch: StoreBatch): Promise<CasOutcome[]> {
    const deletes = batch.deletes ?? [];
    if (batch.writes.length === 0 && deletes.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const w of batch.writes) pipeline.casEnvelope(w.key, w.value, w.version, w.ttlMs);
    if (deletes.length > 0) pipeline.del(...deletes);
    const replies = await pipeline.exec();
    if (replies === null) throw new Error('Redis pipeline was discarded');
    return batch.writes.map((_, i) => {
      const [err, reply] = replies[i] ?? [new Error('missing pipeline reply'), null];
      if (err) throw err;
      const outcome = OUTCOMES[Number(reply)];
      if (outcome === undefined) throw new Error(`Unexpected CAS reply ${String(reply)}`);
      return outcome;
    });
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
