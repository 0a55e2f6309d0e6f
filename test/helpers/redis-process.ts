import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A free loopback port below the ephemeral range (redis-server.ts). */
export { freePort } from './redis-server.js';
import { freePort } from './redis-server.js';

export interface RedisProcessOptions {
  /**
   * Keep snapshots in this directory: `snapshot()` writes one (SAVE) and a
   * restart loads the last one, as a Redis with persistence does after a crash.
   * @default undefined (no persistence: a restart comes back empty)
   */
  readonly snapshotsIn?: string;
  /** Start as a replica of the Redis on this loopback port. @default undefined */
  readonly replicaOf?: number;
}

/**
 * A redis-server of the test's own, on a spare loopback port, by default
 * without persistence: killing or restarting it loses everything, as in
 * production with a cache. Tests break this one, never the shared Redis.
 */
export class RedisProcess {
  private child: ChildProcess | undefined;
  /** Its working directory (a replica writes the RDB it receives there), unless it keeps snapshots in one given. */
  private readonly dir = mkdtempSync(join(tmpdir(), 'fg-redis-'));

  private constructor(
    readonly port: number,
    private readonly options: RedisProcessOptions,
  ) {}

  static async start(port?: number, options: RedisProcessOptions = {}): Promise<RedisProcess> {
    const redis = new RedisProcess(port ?? (await freePort()), options);
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts (again) on the same port: a restart comes back empty, or from the last snapshot. */
  async launch(): Promise<void> {
    const { snapshotsIn, replicaOf } = this.options;
    const child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
        // Snapshots only when the test asks (SAVE); a start loads the last one.
        ...['--dir', snapshotsIn ?? this.dir, '--dbfilename', 'dump.rdb'],
        ...(replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(replicaOf)]),
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {}); // refused connections are expected until the server listens
    try {
      for (let i = 0; i < 100; i++) {
        try {
          if (probe.status !== 'ready') await probe.connect();
          if ((await probe.ping()) === 'PONG') return;
        } catch {
          probe.disconnect();
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw new Error(`redis-server did not start on port ${this.port}`);
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILL: no goodbye to clients, all data gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP: connections stay open but nothing answers. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async restartEmpty(): Promise<void> {
    if (this.options.snapshotsIn !== undefined) throw new Error('this Redis keeps snapshots: a restart loads the last one (restartFromSnapshot)');
    await this.kill();
    await this.launch();
  }

  /** Writes a snapshot now (SAVE), which the next restart loads. */
  async snapshot(): Promise<void> {
    if (this.options.snapshotsIn === undefined) throw new Error('this Redis keeps no snapshots (start it with snapshotsIn)');
    const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      await client.save();
    } finally {
      client.disconnect();
    }
  }

  /** Killed (SIGKILL), then started again: it comes back with the last snapshot, whatever it acknowledged after it. */
  async restartFromSnapshot(): Promise<void> {
    if (this.options.snapshotsIn === undefined) throw new Error('this Redis keeps no snapshots (start it with snapshotsIn)');
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
