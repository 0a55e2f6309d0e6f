import { Redis } from 'ioredis';
import { launchNode, killNode, LocalRedisCluster } from '../../bench/lib/local-redis.js';

export type { ClusterNodeRow, Replication } from '../../bench/lib/local-redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A Redis Cluster of the test's own: six redis-server processes on free
 * loopback ports (three masters with one replica each), without persistence,
 * each in its own temporary directory. One per test file; stop() it in
 * afterAll. Starting and stopping are shared with the benchmark
 * (bench/lib/local-redis.ts); what is here breaks nodes and looks inside them.
 */
export class RedisCluster extends LocalRedisCluster {
  static override async start(size = 6): Promise<RedisCluster> {
    return LocalRedisCluster.create(size, (nodes, root) => new RedisCluster(nodes, root));
  }

  /** The port of the master serving `slot` now. */
  async masterOf(slot: number): Promise<number> {
    const owner = (await this.table()).find((n) => n.master && !n.failed && n.slots.some(([from, to]) => slot >= from && slot <= to));
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return owner.port;
  }

  /** The port of a live replica of the master on `masterPort`. */
  async replicaOf(masterPort: number): Promise<number> {
    const table = await this.table();
    const master = table.find((n) => n.port === masterPort);
    const replica = table.find((n) => n.masterId === master?.id && !n.failed);
    if (!replica) throw new Error(`master ${masterPort} has no live replica`);
    return replica.port;
  }

  /** GET on one node as it is, a replica included (READONLY), without following redirections. */
  async getOn(port: number, key: string): Promise<string | null> {
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.readonly();
      return await redis.get(key);
    } finally {
      redis.disconnect();
    }
  }

  async idOf(port: number): Promise<string> {
    return this.cli(port, 'cluster', 'myid');
  }

  /** SIGKILL: no goodbye, its data is gone; the cluster fails its slots over to the replica. */
  async kill(port: number): Promise<void> {
    await killNode(this.node(port));
  }

  /** SIGSTOP / SIGCONT: the node keeps its connections but answers nothing. */
  pause(port: number): void {
    this.node(port).child?.kill('SIGSTOP');
  }

  resume(port: number): void {
    this.node(port).child?.kill('SIGCONT');
  }

  /** Starts a killed node again on its port with its nodes.conf: it rejoins, as a replica if it was failed over. */
  async restart(port: number): Promise<void> {
    await launchNode(this.node(port), true);
  }

  /** Waits until `cluster info` says cluster_state:ok on every live node (slots served, maybe without replicas). */
  async waitServing(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.nodes.filter((n) => n.child !== undefined);
      const states = await Promise.all(live.map((n) => this.cli(n.port, 'cluster', 'info').catch(() => '')));
      if (states.every((s) => /cluster_state:ok/.test(s))) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster did not serve every slot within ${timeoutMs} ms`);
      await sleep(100);
    }
  }
}
