import { randomUUID } from 'node:crypto';
import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import { ConfirmedPipeline } from './confirmed-pipeline.js';
import { leaseKeyOf } from './keys.js';
import { casOutcomeOf as outcomeOf, defineCacheScripts, defineEpochScript } from './redis-scripts.js';
import type { CacheStore, CasOutcome, CasWrite, LeaseRequest, StoreBatch } from './store.js';

export interface RedisStoreOptions {
  readonly url: string;
  /** Bound on every command; a slow Redis becomes an error, never a hung request. @default 500 */
  readonly commandTimeoutMs?: number;
  /** Bound on each connection attempt, and on the wait in connect(). @default 2000 */
  readonly connectTimeoutMs?: number;
  /** Called for connection-level errors, which ioredis reports as events. */
  readonly onConnectionError?: (err: Error) => void;
  /**
   * The key of the cache's epoch (EPOCH_LUA): checked on every connection
   * before the first read and read along with every MGET, so that values a
   * Redis kept from before it lost writes are never served. @default undefined (every value is trusted)
   */
  readonly epochKey?: string;
  /**
   * Replicas that must confirm a write-through (`WAIT`) before it counts as landed: for a Redis whose
   * replica may be promoted (Sentinel). 0: no wait. @default 0
   */
  readonly waitReplicas?: number;
  /** How long a write-through waits for that confirmation; beyond it the write counts as failed. @default 100 */
  readonly waitTimeoutMs?: number;
}

/** The epoch key lives this long, renewed by every check; one gone makes a new epoch (a cold cache, never a stale one). */
const EPOCH_TTL_MS = 24 * 3600 * 1000;
/** A connection's epoch is checked again this often, which also renews the key. */
const EPOCH_RECHECK_MS = 3600 * 1000;

/** Thrown by a read whose values cannot be vouched for: the epoch could not be checked, or changed under the connection. */
export class UntrustedStoreError extends Error {
  override readonly name = 'UntrustedStoreError';
}

/**
 * The store on one Redis server; cluster-store.ts is the one on a Redis Cluster.
 *
 * A Redis may come back with older values than it acknowledged: restarted
 * from a snapshot taken before its last writes, or replaced by a replica that
 * missed them. The outbox rows of those writes are gone (they landed), so
 * nothing would replay them, and the older versions would be served until
 * their TTL. With `epochKey`, the store learns of it before it serves a value:
 * every (re)connection checks the epoch (EPOCH_LUA) before its first read, and
 * every MGET reads the epoch key along (one key more in the same command), so
 * an epoch that changed under a connection is seen at once. A new epoch
 * trusts only values written from then on (`trustedSince`); the engine treats
 * older ones as misses, which the CAS then overwrites with Postgres' version.
 * With `waitReplicas`, write-throughs go on a connection of their own and end
 * with `WAIT`, as on Redis Cluster, so that a promoted replica holds every
 * write acknowledged as landed.
 */
export class RedisStore implements CacheStore {
  readonly kind = 'redis';
  readonly retains = true;
  readonly client: Redis;
  /** Write-throughs when they wait for replicas: WAIT holds its connection, and reads must not queue behind it. */
  readonly writer: Redis | undefined;
  private readonly connectTimeoutMs: number;
  // Ends a connect() in progress: between retries ioredis emits nothing when it is disconnected.
  private readonly closing = new AbortController();
  private readonly epochKey: string | undefined;
  private readonly confirmed: ConfirmedPipeline | undefined;
  /** The epoch adopted on this connection (the key's exact value), and the time it trusts values from. */
  private epoch: string | undefined;
  private since: number | undefined;
  /** Counts connections: a check answered on an earlier one says nothing about this one. */
  private session = 0;
  private checked = false;
  private checking: { readonly session: number; readonly done: Promise<void> } | undefined;
  private recheck: NodeJS.Timeout | undefined;

  constructor(options: RedisStoreOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.epochKey = options.epochKey;
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
    const onError = options.onConnectionError ?? (() => {});
    this.client = new Redis(options.url, redisOptions);
    defineCacheScripts(this.client);
    this.client.on('error', onError);
    const waitReplicas = options.waitReplicas ?? 0;
    if (waitReplicas > 0) {
      // Pipelines are built explicitly for the WAIT; auto-pipelining would only regroup them.
      this.writer = new Redis(options.url, { ...redisOptions, enableAutoPipelining: false });
      defineCacheScripts(this.writer);
      this.writer.on('error', onError);
      this.confirmed = new ConfirmedPipeline(this.writer, waitReplicas, options.waitTimeoutMs ?? 100, 'REDIS_WAIT_REPLICAS');
    }
    if (this.epochKey !== undefined) {
      defineEpochScript(this.client);
      this.client.on('close', () => {
        this.session++;
        this.checked = false;
      });
      this.client.on('ready', () => void this.checkEpoch().catch(onError));
      this.recheck = setInterval(() => void this.checkEpoch().catch(onError), EPOCH_RECHECK_MS);
      this.recheck.unref();
    }
  }

  /** Values written before this may predate lost writes (see the class comment); undefined without an epoch. */
  get trustedSince(): number | undefined {
    return this.since;
  }

  /**
   * Resolves once Redis is ready (and its epoch checked), or rejects after `connectTimeoutMs` (sooner if
   * the client stops for good); a refused attempt does not end the wait, since the next retry may still make it in time.
   * After a timeout the client goes on reconnecting in the background, until close().
   */
  async connect(): Promise<void> {
    await Promise.all([this.client, this.writer].map((client) => (client === undefined ? undefined : this.connectClient(client))));
    // Before the first read, not after it: what this Redis holds may predate writes it lost.
    await this.checkEpoch();
  }

  private async connectClient(client: Redis): Promise<void> {
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
    const epochKey = this.epochKey;
    if (epochKey === undefined) return this.client.mget(keys as string[]);
    // Right after a (re)connection: one round trip for the check, then the read.
    if (!this.checked) await this.checkEpoch();
    if (!this.checked) throw new UntrustedStoreError('the connection to Redis changed while its epoch was checked');
    const session = this.session;
    const values = await this.client.mget([...keys, epochKey]);
    if (values.pop() !== this.epoch) {
      if (session === this.session) this.checked = false;
      throw new UntrustedStoreError('the cache epoch in Redis changed under this connection (a restart, a failover or a new epoch); checking it again');
    }
    return values;
  }

  /**
   * Checks the epoch on the current connection (EPOCH_LUA) and adopts it; one
   * check at a time per connection. Rejects when Redis cannot be asked, or is a replica.
   */
  private checkEpoch(): Promise<void> {
    const epochKey = this.epochKey;
    if (epochKey === undefined) return Promise.resolve();
    const session = this.session;
    if (this.checking?.session === session) return this.checking.done;
    const done = this.client.checkEpoch(epochKey, randomUUID(), Date.now(), EPOCH_TTL_MS).then(
      (raw) => {
        const since = (JSON.parse(raw) as { since?: unknown }).since;
        if (typeof since !== 'number') throw new UntrustedStoreError(`the cache epoch in Redis is malformed: ${raw}`);
        if (session !== this.session) throw new UntrustedStoreError('the connection to Redis was lost while its epoch was checked');
        this.epoch = raw;
        this.since = since;
        this.checked = true;
      },
      (err: unknown) => {
        throw new UntrustedStoreError(`the cache epoch could not be checked, so nothing read from Redis can be trusted yet: ${String(err)}`, { cause: err });
      },
    );
    const check = { session, done };
    this.checking = check;
    void done
      .catch(() => undefined)
      .finally(() => {
        if (this.checking === check) this.checking = undefined;
      });
    return done;
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
    const confirmed = this.confirmed;
    if (confirmed !== undefined && batch.writes.length > 0) {
      const queue = (pipeline: ChainableCommander) => {
        for (const w of batch.writes) pipeline.casWrite(w.key, leaseKeyOf(w.key), w.value, w.version, w.ttlMs);
        if (deletes.length > 0) pipeline.del(...deletes, ...deletes.map(leaseKeyOf));
      };
      return outcomesOf(await confirmed.send(queue, batch.writes.length + (deletes.length > 0 ? 1 : 0)), batch.writes.length);
    }
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

  /** Also fails while the epoch cannot be checked (a replica, say): the cache then serves nothing. */
  async ping(): Promise<void> {
    await Promise.all([this.client.ping(), this.writer?.ping()]);
    if (!this.checked) await this.checkEpoch();
  }

  async close(): Promise<void> {
    this.closing.abort();
    clearInterval(this.recheck);
    await Promise.all(
      [this.client, this.writer].map(async (client) => {
        if (client === undefined || client.status === 'end') return;
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      }),
    );
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
