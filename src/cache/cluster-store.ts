import { Cluster, type ChainableCommander, type ClusterOptions, type Redis } from 'ioredis';
import { ClusterReads } from './cluster-reads.js';
import { ConfirmedPipeline, unconfirmed } from './confirmed-pipeline.js';
import { asError, byMaster, execPipeline, isRedirect } from './cluster-routing.js';
import { leaseKeyOf } from './keys.js';
import { casOutcomeOf, defineCacheScripts, defineReadScript } from './redis-scripts.js';
import { UnconfirmedWriteError, type CacheStore, type CasOutcome, type CasWrite, type LeaseRequest, type StoreBatch } from './store.js';

const WAIT_SETTING = 'REDIS_CLUSTER_WAIT_REPLICAS';

export interface ClusterNodeAddress {
  readonly host: string;
  readonly port: number;
}

export interface ClusterStoreOptions {
  /** Seed nodes; the client learns the rest of the cluster (and every change to it) from them. */
  readonly nodes: readonly ClusterNodeAddress[];
  /** Bound on every command on every node. @default 500 */
  readonly commandTimeoutMs?: number;
  /** @default 2000 */
  readonly connectTimeoutMs?: number;
  /**
   * Replicas that must confirm a master's write-throughs (`WAIT`) before they count as landed.
   * 0 skips the wait: only for a cluster without replicas, where no failover can promote an older copy. @default 1
   */
  readonly waitReplicas?: number;
  /** How long a write-through waits for that confirmation; beyond it the write counts as failed. @default 100 */
  readonly waitTimeoutMs?: number;
  /** Called for connection-level errors, which ioredis reports as events. */
  readonly onConnectionError?: (err: Error) => void;
}

/**
 * The cache store on a Redis Cluster. Only driver I/O: the same Lua scripts as
 * the single-node store for every write and lease (each touches one entity key
 * and its lease, which share a hash tag and so a slot), routed by slot, and one
 * read-only script of its own that reads many slots of one master.
 *
 * Every batch becomes one pipeline per master, written straight to that
 * master's connection and sent to all masters at once: one round trip per
 * master, in parallel, never one per key and never a multi-slot command.
 * Reads go further (cluster-reads.ts): the reads of concurrent callers go out
 * together, one read script per master for all their keys (several, one
 * after another, past READ_SCRIPT_MAX_KEYS). Reads go to
 * masters only: a replica may lag behind a write its master acknowledged, and
 * serving it would be a stale read.
 *
 * ioredis' Cluster keeps the slot map and the connections; its own cluster
 * pipelines are not used, because on ASK they resend every read of the
 * pipeline to the importing node, where keys that have not moved yet read as
 * missing. Here a command refused with MOVED or ASK (resharding, failover) is
 * sent again on its own through ioredis' cluster routing, which follows the
 * redirection and refreshes the slot map. Any other error (TRYAGAIN included:
 * while a slot migrates, a script whose entity and lease are on different
 * sides is refused until the migration ends) fails the whole call, so that
 * the engine serves the batch from the database and repairs the writes from
 * the outbox, and asks for a fresh slot map: after a failover the next call
 * goes to the promoted replica.
 */
export class ClusterStore implements CacheStore {
  readonly kind = 'redis-cluster';
  readonly retains = true;
  /** Reads, leases, fills and deletes. */
  readonly reader: Cluster;
  /**
   * Write-throughs, on connections of their own: `WAIT` holds its connection
   * until a replica confirms, and reads must not queue behind it.
   */
  readonly writer: Cluster;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly confirmed = new WeakMap<Redis, ConfirmedPipeline>();
  private readonly reads: ClusterReads;

  constructor(options: ClusterStoreOptions) {
    if (options.nodes.length === 0) throw new Error('ClusterStore needs at least one seed node');
    this.waitReplicas = options.waitReplicas ?? 1;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 100;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    const clusterOptions: ClusterOptions = {
      // Masters only (see above).
      scaleReads: 'master',
      // No queue while the cluster is unreachable: callers fall back to the database instead.
      enableOfflineQueue: false,
      // A closed connection or a cluster that is down fails the call at once instead of being retried for
      // seconds; the engine serves from the database, and the slot map is refreshed (see failed()).
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      // TRYAGAIN (see above) does not clear within a call; a few redirections cover MOVED then ASK.
      retryDelayOnTryAgain: 0,
      maxRedirections: 5,
      // A safety net; failovers and resharding are learned from errors and redirections as they happen.
      slotsRefreshInterval: 5000,
      slotsRefreshTimeout: Math.min(1000, this.connectTimeoutMs),
      // Auto-pipelines are cluster pipelines (see above); batches are pipelined here instead.
      enableAutoPipelining: false,
      lazyConnect: true,
      redisOptions: {
        commandTimeout: options.commandTimeoutMs ?? 500,
        connectTimeout: this.connectTimeoutMs,
        maxRetriesPerRequest: 1,
      },
    };
    this.reader = new Cluster([...options.nodes], clusterOptions);
    this.writer = new Cluster([...options.nodes], clusterOptions);
    const onError = options.onConnectionError ?? (() => {});
    for (const client of [this.reader, this.writer]) {
      defineCacheScripts(client);
      // Batches are pipelined on the node connections themselves, which need the scripts too.
      client.on('+node', (node: Redis) => defineCacheScripts(node));
      client.on('error', onError);
      client.on('node error', onError);
    }
    this.reader.on('+node', (node: Redis) => defineReadScript(node));
    this.reads = new ClusterReads(this.reader, (keys) => this.mastersOf(this.reader, keys), (err) => this.failed(this.reader, err));
  }

  /** Connects both clients and every master, or rejects after the connect timeout; the clients keep retrying. */
  async connect(): Promise<void> {
    await Promise.all([this.reader, this.writer].map((client) => connectCluster(client, this.connectTimeoutMs)));
    // Opens a connection to every master now, so that the first requests do not pay for it.
    await this.ping();
  }

  async read(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return this.reads.read(keys);
  }

  async acquireLeases(keys: readonly string[], lease: LeaseRequest): Promise<boolean[]> {
    if (keys.length === 0) return [];
    // The shared script, one key per call: a script may only touch keys of one slot.
    const replies = await this.send(
      this.reader,
      keys,
      (pipeline, i) => pipeline.acquireLeases(1, leaseKeyOf(keys[i] as string), lease.token, lease.ttlMs),
      (i) => this.reader.acquireLeases(1, leaseKeyOf(keys[i] as string), lease.token, lease.ttlMs),
    );
    return replies.map((taken) => Array.isArray(taken) && taken[0] === 1);
  }

  async releaseLeases(keys: readonly string[], token: string): Promise<void> {
    if (keys.length === 0) return;
    await this.send(
      this.reader,
      keys,
      (pipeline, i) => pipeline.releaseLeases(1, leaseKeyOf(keys[i] as string), token),
      (i) => this.reader.releaseLeases(1, leaseKeyOf(keys[i] as string), token),
    );
  }

  /**
   * Write-throughs are final only once a replica holds them. Replication is
   * asynchronous: a master that dies right after acknowledging a CAS takes it
   * along, and the replica promoted in its place serves the older version, a
   * stale read after an acknowledged mutation. So each master's pipeline ends
   * with `WAIT <waitReplicas> <waitTimeoutMs>` on the same connection, which
   * confirms everything the connection wrote before it; when fewer replicas
   * confirm, the call fails (UnconfirmedWriteError) although the master applied
   * the writes. The engine then does what it does for any failed write-through:
   * it distrusts the keys and leaves the outbox rows to the repair worker, which
   * replays them (with the same WAIT) until a replica confirms them. The price
   * is one replica round trip per mutation, and while a master has no live
   * replica, its keys' writes stay unconfirmed and those keys are served from
   * the database. (Keeping outbox history to replay after a failover was the
   * alternative; it cannot stop the reads served between the promotion and the
   * replay.) Deletes are hints (stale secondary lookups) and need no WAIT.
   */
  async apply(batch: StoreBatch): Promise<CasOutcome[]> {
    const { writes } = batch;
    const deletes = batch.deletes ?? [];
    if (writes.length === 0 && deletes.length === 0) return [];
    const only = writes.length === 1 && deletes.length === 0 ? writes[0] : undefined;
    if (only && this.waitReplicas === 0) {
      return [casOutcomeOf(await this.routed(this.writer, () => this.writer.casWrite(only.key, leaseKeyOf(only.key), only.value, only.version, only.ttlMs)))];
    }
    const keys = writes.map((w) => w.key).concat(deletes);
    const replies = await this.send(
      this.writer,
      keys,
      (pipeline, i) => {
        const w = writes[i];
        if (w) pipeline.casWrite(w.key, leaseKeyOf(w.key), w.value, w.version, w.ttlMs);
        // A key and its lease share a slot: one DEL removes both.
        else pipeline.del(keys[i] as string, leaseKeyOf(keys[i] as string));
      },
      (i) => {
        const w = writes[i];
        return w
          ? this.writer.casWrite(w.key, leaseKeyOf(w.key), w.value, w.version, w.ttlMs)
          : this.writer.del(keys[i] as string, leaseKeyOf(keys[i] as string));
      },
      this.waitReplicas > 0 ? (i) => i < writes.length : undefined,
    );
    return writes.map((_, i) => casOutcomeOf(replies[i]));
  }

  /**
   * Fills are not confirmed by a replica (no WAIT): a fill copies a version
   * that Postgres holds and that any acknowledged write-through of it already
   * confirmed. If a failover loses a fill, the promoted replica holds an older
   * copy only when that copy is still the newest confirmed one, or nothing (a
   * miss, loaded again); losing a fill loses a copy, never a write.
   */
  async fill(writes: readonly CasWrite[], token: string): Promise<CasOutcome[]> {
    if (writes.length === 0) return [];
    const fill = (w: CasWrite) => this.reader.casFill(w.key, leaseKeyOf(w.key), w.value, w.version, w.ttlMs, token);
    const [only] = writes;
    if (writes.length === 1 && only) return [casOutcomeOf(await this.routed(this.reader, () => fill(only)))];
    const replies = await this.send(
      this.reader,
      writes.map((w) => w.key),
      (pipeline, i) => {
        const w = writes[i] as CasWrite;
        pipeline.casFill(w.key, leaseKeyOf(w.key), w.value, w.version, w.ttlMs, token);
      },
      (i) => fill(writes[i] as CasWrite),
    );
    return replies.map(casOutcomeOf);
  }

  /**
   * Answers when every hash slot has a known master and every master answers
   * PING, on both clients: a cluster with a slot down is not ready.
   */
  async ping(): Promise<void> {
    await Promise.all([pingMasters(this.reader), pingMasters(this.writer)]);
  }

  async close(): Promise<void> {
    await Promise.all(
      [this.reader, this.writer].map(async (client) => {
        if (client.status === 'end') return;
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      }),
    );
  }

  /**
   * Sends one command per key: one pipeline per master (the master ioredis'
   * slot map names for each key's slot), all at once, each ending with a WAIT
   * when `confirm` says one of its commands must reach a replica. Replies in
   * key order.
   */
  private async send(
    client: Cluster,
    keys: readonly string[],
    queue: (pipeline: ChainableCommander, i: number) => void,
    resend: (i: number) => Promise<unknown>,
    confirm?: (i: number) => boolean,
  ): Promise<unknown[]> {
    const groups = this.mastersOf(client, keys);
    const replies: unknown[] = new Array(keys.length);
    const redirected: number[] = [];
    let failure: Error | undefined;
    await Promise.all(
      Array.from(groups, async ([node, indices]) => {
        const queueAll = (pipeline: ChainableCommander) => {
          for (const i of indices) queue(pipeline, i);
        };
        const results =
          confirm !== undefined && indices.some(confirm)
            ? await this.confirmedPipeline(node).send(queueAll, indices.length)
            : await execPipeline(node, queueAll);
        indices.forEach((i, j) => {
          const [err, reply] = results[j] ?? [new Error('missing pipeline reply'), null];
          if (err === null) replies[i] = reply;
          else if (isRedirect(err)) redirected.push(i);
          else failure ??= err;
        });
      }),
    ).catch((err: unknown) => {
      failure ??= asError(err);
    });
    if (failure) throw this.failed(client, failure);
    if (redirected.length > 0) {
      const again = await this.routed(client, () => Promise.all(redirected.map(resend)));
      redirected.forEach((i, j) => (replies[i] = again[j]));
      // ioredis chose where they went (after MOVED or ASK): confirm on every master this client writes to.
      if (confirm !== undefined && redirected.some(confirm)) await this.confirmEverywhere(client);
    }
    return replies;
  }

  /** The indices of `keys` by the master connection that serves each; a failure if one has none. */
  private mastersOf(client: Cluster, keys: readonly string[]): Map<Redis, number[]> {
    if (client.status !== 'ready') throw new Error(`Redis Cluster is not connected (client ${client.status})`);
    try {
      return byMaster(client, keys);
    } catch (err) {
      throw this.failed(client, asError(err));
    }
  }

  private confirmedPipeline(node: Redis): ConfirmedPipeline {
    let pipeline = this.confirmed.get(node);
    if (!pipeline) this.confirmed.set(node, (pipeline = new ConfirmedPipeline(node, this.waitReplicas, this.waitTimeoutMs, WAIT_SETTING)));
    return pipeline;
  }

  /** WAIT on every master connection: each confirms whatever this client wrote there. */
  private async confirmEverywhere(client: Cluster): Promise<void> {
    await this.routed(client, async () => {
      const masters = client.nodes('master');
      const acked = await Promise.all(masters.map((node) => node.wait(this.waitReplicas, this.waitTimeoutMs)));
      acked.forEach((count, i) => {
        const error = unconfirmed(count, this.waitReplicas, this.waitTimeoutMs, masters[i], WAIT_SETTING);
        if (error) throw error;
      });
    });
  }

  /** Runs a call whose failure should make the client look at the cluster again. */
  private async routed<R>(client: Cluster, call: () => Promise<R>): Promise<R> {
    try {
      return await call();
    } catch (err) {
      throw this.failed(client, asError(err));
    }
  }

  /**
   * A call failed: a node may have died or lost its slots to a failover. Asks
   * for a fresh slot map at once (ioredis runs one refresh at a time), so the
   * next call goes where the cluster now serves the slot.
   */
  private failed(client: Cluster, err: Error): Error {
    if (!(err instanceof UnconfirmedWriteError)) client.refreshSlotsCache();
    return err;
  }
}

async function connectCluster(client: Cluster, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis Cluster did not become ready within ${timeoutMs} ms`)), timeoutMs);
  });
  const ready =
    client.status === 'wait'
      ? client.connect()
      : new Promise<void>((resolve) => {
          client.once('ready', () => resolve());
        });
  // A connect that fails after the timeout won is not an unhandled rejection: the client retries on its own.
  ready.catch(() => {});
  try {
    await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every slot must have a master in the client's map, and every such master must answer. */
async function pingMasters(client: Cluster): Promise<void> {
  if (client.status !== 'ready') throw new Error(`Redis Cluster is not connected (client ${client.status})`);
  const masters = new Set<string>();
  for (let slot = 0; slot < 16384; slot++) {
    const master = client.slots[slot]?.[0];
    if (master === undefined) throw new Error(`Redis Cluster hash slot ${slot} has no master`);
    masters.add(master);
  }
  const connections = new Map(client.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  await Promise.all(
    [...masters].map(async (master) => {
      const node = connections.get(master);
      if (!node) throw new Error(`Redis Cluster master ${master} is not connected`);
      await node.ping();
    }),
  );
}
