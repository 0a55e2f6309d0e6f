/**
 * Redis servers of our own on loopback, from the system's redis-server and
 * redis-cli (Debian's; nothing is downloaded): one plain server, or a Redis
 * Cluster of three masters with a replica each. The benchmark (`--cluster`)
 * and the tests (test/helpers/redis-cluster.ts, which adds fault injection)
 * both start them from here. Every node runs without persistence, in its own
 * temporary directory, and is killed when this process exits, whatever
 * happened before.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every redis-server this process started and has not stopped, and their directories: killed and removed on exit, so none outlives us. */
const started = new Set<ChildProcess>();
const directories = new Set<string>();
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

function temporaryDirectory(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  directories.add(dir);
  return dir;
}

function removeDirectory(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  directories.delete(dir);
}

/** A cache node: no snapshots, no append-only file (a restarted node comes back empty, as in production). */
const NODE_ARGS = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'];
const CLUSTER_ARGS = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'];

export interface RedisNode {
  readonly port: number;
  readonly dir: string;
  child: ChildProcess | undefined;
}

/** Runs redis-cli against one node and returns its output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout.trim();
}

/** Starts redis-server for `node` and waits until it answers PING. */
export async function launchNode(node: RedisNode, cluster: boolean): Promise<void> {
  mkdirSync(node.dir, { recursive: true });
  const child = spawn('redis-server', ['--port', String(node.port), ...(cluster ? CLUSTER_ARGS : []), ...NODE_ARGS, '--dir', node.dir], { stdio: 'ignore' });
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  node.child = child;
  started.add(child);
  child.once('exit', () => started.delete(child));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (spawnError) {
      node.child = undefined;
      started.delete(child);
      throw new Error(`Cannot start redis-server (${spawnError.message}). Install it with \`apt-get install -y redis-server\` (redis-cli comes with it).`, { cause: spawnError });
    }
    if (child.exitCode !== null) throw new Error(`redis-server on port ${node.port} exited with ${child.exitCode}`);
    if ((await redisCli(node.port, 'ping').catch(() => '')) === 'PONG') return;
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${node.port}`);
    await sleep(50);
  }
}

/** SIGKILL (after SIGCONT, in case it was paused), and waits for the exit. */
export async function killNode(node: RedisNode): Promise<void> {
  const child = node.child;
  node.child = undefined;
  if (!child) return;
  child.kill('SIGCONT');
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
  started.delete(child);
}

/** One plain redis-server of our own (no cluster), with the same settings as a cluster node. */
export class LocalRedis {
  private constructor(
    private readonly node: RedisNode,
    private readonly root: string,
  ) {}

  static async start(): Promise<LocalRedis> {
    const root = temporaryDirectory('fg-redis-');
    const redis = new LocalRedis({ port: await freeClusterPort([]), dir: root, child: undefined }, root);
    try {
      await launchNode(redis.node, false);
    } catch (err) {
      await redis.stop();
      throw err;
    }
    return redis;
  }

  get port(): number {
    return this.node.port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.node.port}/0`;
  }

  async stop(): Promise<void> {
    await killNode(this.node);
    removeDirectory(this.root);
  }
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
 * A Redis Cluster of our own: `size` redis-server processes on free loopback
 * ports (with 6: three masters with one replica each), created with
 * `redis-cli --cluster create`. stop() it when done.
 */
export class LocalRedisCluster {
  protected constructor(
    protected readonly nodes: readonly RedisNode[],
    private readonly root: string,
  ) {}

  static async start(size = 6): Promise<LocalRedisCluster> {
    return LocalRedisCluster.create(size, (nodes, root) => new LocalRedisCluster(nodes, root));
  }

  /** Starts the nodes, creates the cluster and waits until it is whole; `make` builds the (sub)class around the nodes. */
  protected static async create<C extends LocalRedisCluster>(size: number, make: (nodes: RedisNode[], root: string) => C): Promise<C> {
    const root = temporaryDirectory('fg-cluster-');
    const nodes: RedisNode[] = [];
    for (let i = 0; i < size; i++) {
      const port = await freeClusterPort(nodes.map((n) => n.port));
      nodes.push({ port, dir: join(root, String(i)), child: undefined });
    }
    const cluster = make(nodes, root);
    try {
      for (const node of nodes) await launchNode(node, true);
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

  async cli(port: number, ...args: string[]): Promise<string> {
    return redisCli(port, ...args);
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

  async replication(port: number): Promise<Replication> {
    const info = await this.cli(port, 'info', 'replication');
    return {
      role: /role:master/.test(info) ? 'master' : 'slave',
      connectedReplicas: Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0),
      linkUp: /master_link_status:up/.test(info),
    };
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

  /** Kills every node this object started and removes their directories. */
  async stop(): Promise<void> {
    for (const node of this.nodes) await killNode(node);
    removeDirectory(this.root);
  }

  protected node(port: number): RedisNode {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    return node;
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
}

/**
 * A loopback port for a Redis node: a cluster node also listens on port +
 * 10,000 (the cluster bus), so both must be free, and the port at most 55,535.
 */
/**
 * A free port P with P + 10000 free too (a cluster node's bus), both below Linux's ephemeral range
 * (32768 and up by default): a port found free there could be taken by an outgoing connection's
 * local port before redis-server binds it.
 */
async function freeClusterPort(taken: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 2_700);
    if (taken.some((t) => t === port || Math.abs(t - port) === 10_000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
  throw new Error('no free pair of loopback ports for a Redis node');
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
