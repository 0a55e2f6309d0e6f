import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every cluster node this process started: killed when the test worker exits, whatever the test did. */
const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

interface Node {
  readonly port: number;
  readonly dir: string;
  child: ChildProcess | undefined;
}

/** One line of CLUSTER NODES. */
export interface ClusterNodeRow {
  readonly id: string;
  readonly port: number;
  readonly master: boolean;
  readonly failed: boolean;
  /** For a replica: the id of its master. */
  readonly masterId: string | undefined;
  /** Served slot ranges, inclusive. */
  readonly slots: readonly (readonly [number, number])[];
}

/** What `redis-cli info replication` says about one node. */
export interface Replication {
  readonly role: 'master' | 'slave';
  readonly connectedReplicas: number;
  readonly linkUp: boolean;
}

/**
 * A Redis Cluster of the test's own: six redis-server processes on free
 * loopback ports (three masters with one replica each), without persistence,
 * each in its own temporary directory. One per test file; stop() it in
 * afterAll.
 */
export class RedisCluster {
  private constructor(
    private readonly nodes: readonly Node[],
    private readonly root: string,
  ) {}

  static async start(size = 6): Promise<RedisCluster> {
    const root = mkdtempSync(join(tmpdir(), 'fg-cluster-'));
    const nodes: Node[] = [];
    for (let i = 0; i < size; i++) {
      const port = await freeClusterPort(nodes.map((n) => n.port));
      nodes.push({ port, dir: join(root, String(i)), child: undefined });
    }
    const cluster = new RedisCluster(nodes, root);
    try {
      for (const node of nodes) await cluster.launch(node);
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], {
        timeout: 30_000,
      });
      await cluster.waitHealthy();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** `host:port` of every node, as REDIS_CLUSTER_NODES takes them. */
  get seeds(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`);
  }

  get ports(): number[] {
    return this.nodes.map((n) => n.port);
  }

  /** CLUSTER NODES as a live node sees it now. */
  async table(): Promise<ClusterNodeRow[]> {
    const live = this.nodes.find((n) => n.child !== undefined);
    if (!live) throw new Error('no live node');
    // `<id> <ip:port@cport> <flags> <master id or -> <ping> <pong> <epoch> <link> <slot ranges...>`
    return (await this.cli(live.port, 'cluster', 'nodes'))
      .split('\n')
      .map((line) => line.trim().split(' '))
      .filter((f) => f.length >= 8)
      .map((f) => ({
        id: f[0] as string,
        port: Number(/:(\d+)@/.exec(f[1] ?? '')?.[1]),
        master: (f[2] ?? '').includes('master'),
        failed: /fail/.test(f[2] ?? ''),
        masterId: f[3] === '-' ? undefined : f[3],
        slots: f
          .slice(8)
          .filter((r) => /^\d+(-\d+)?$/.test(r))
          .map((r) => {
            const [from, to] = r.split('-').map(Number) as [number, number | undefined];
            return [from, to ?? from] as const;
          }),
      }));
  }

  /** The ports of the masters that serve slots, in slot order (the first serves slot 0). */
  async masterPorts(): Promise<number[]> {
    const masters = (await this.table()).filter((n) => n.master && !n.failed && n.slots.length > 0);
    return masters.sort((a, b) => (a.slots[0]?.[0] ?? 0) - (b.slots[0]?.[0] ?? 0)).map((m) => m.port);
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

  async replication(port: number): Promise<Replication> {
    const info = await this.cli(port, 'info', 'replication');
    return {
      role: /role:master/.test(info) ? 'master' : 'slave',
      connectedReplicas: Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0),
      linkUp: /master_link_status:up/.test(info),
    };
  }

  /** Runs redis-cli against one node and returns its output. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
    return stdout.trim();
  }

  /** SIGKILL: no goodbye, its data is gone; the cluster fails its slots over to the replica. */
  async kill(port: number): Promise<void> {
    const node = this.node(port);
    const child = node.child;
    node.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    started.delete(child);
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
    await this.launch(this.node(port));
  }

  /**
   * Waits until every live node reports cluster_state:ok, every master has a
   * replica whose link is up, and all live nodes agree on who the masters are.
   */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        last = await this.health();
        if (last === 'ok') return;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) throw new Error(`Redis Cluster did not become healthy in ${timeoutMs} ms: ${last}`);
      await sleep(100);
    }
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

  /** Kills every node this object started and removes their directories. */
  async stop(): Promise<void> {
    for (const node of this.nodes) {
      const child = node.child;
      node.child = undefined;
      if (!child) continue;
      child.kill('SIGCONT');
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
      started.delete(child);
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  private async health(): Promise<string> {
    const live = this.nodes.filter((n) => n.child !== undefined);
    for (const node of live) {
      const info = await this.cli(node.port, 'cluster', 'info');
      if (!/cluster_state:ok/.test(info)) return `node ${node.port} is not ok yet`;
    }
    const replication = await Promise.all(live.map((n) => this.replication(n.port)));
    const masters = replication.filter((r) => r.role === 'master');
    if (masters.length === 0) return 'no master';
    if (masters.some((m) => m.connectedReplicas < 1)) return 'a master has no replica attached';
    if (replication.some((r) => r.role === 'slave' && !r.linkUp)) return 'a replica is still syncing';
    return 'ok';
  }

  private node(port: number): Node {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    return node;
  }

  private async launch(node: Node): Promise<void> {
    mkdirSync(node.dir, { recursive: true });
    const child = spawn(
      'redis-server',
      [
        '--port', String(node.port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', '2000',
        '--save', '',
        '--appendonly', 'no',
        '--dir', node.dir,
        '--loglevel', 'warning',
      ],
      { stdio: 'ignore' },
    );
    node.child = child;
    started.add(child);
    child.once('exit', () => started.delete(child));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${node.port} exited with ${child.exitCode}`);
      if ((await this.cli(node.port, 'ping').catch(() => '')) === 'PONG') return;
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${node.port}`);
      await sleep(50);
    }
  }
}

/**
 * A loopback port for a cluster node: a node also listens on port + 10,000
 * (the cluster bus), so both must be free, and the port at most 55,535.
 */
async function freeClusterPort(taken: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (taken.some((t) => t === port || Math.abs(t - port) === 10_000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
  throw new Error('no free pair of loopback ports for a cluster node');
}

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  return listening;
}
