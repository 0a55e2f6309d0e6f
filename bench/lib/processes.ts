import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONFIGURATION, type ConfigurationName } from './configurations.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ProbeStats {
  readonly sql: number;
  readonly redis: number;
  /** Writes to a Redis connection that were answered: a pipeline counts one per node, a lone command one. */
  readonly roundTrips: number;
  readonly hits: number;
  readonly misses: number;
  /** 2xx responses carrying GraphQL errors. */
  readonly graphqlErrors: number;
  /** CPU time of the server process, user + system, microseconds. */
  readonly cpuUs: number;
  readonly rss: number;
  /** V8 heap in use and reserved, bytes. */
  readonly heapUsed: number;
  readonly heapTotal: number;
}

export interface ServerProcess {
  readonly name: ConfigurationName;
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Counters from bench/probe.ts inside the server. */
  stats(): Promise<ProbeStats>;
  /** Resident set size from /proc/<pid>/status, in bytes. */
  rss(): number;
  /** What the server last wrote to stdout and stderr (its warnings and errors: it logs at `warn`). */
  recentOutput(): string;
  stop(): Promise<void>;
}

export interface ServerSpec {
  readonly name: ConfigurationName;
  /** Its own copy of the data set; undefined for a configuration that holds no data. */
  readonly databaseUrl: string | undefined;
  /** Where its cache is: REDIS_URL or REDIS_CLUSTER_NODES, and CACHE_PREFIX (see caches.ts). */
  readonly cache: Readonly<Record<string, string>>;
  /** Where buildServers() put the compiled servers. */
  readonly buildDir: string;
  readonly profileDir?: string;
  /** Extra environment for the server (the soak's longer TTL, the ceiling's body). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Compiles the servers (src/, the peer and the probe) to JavaScript in `dir`, as
 * `npm run build` does for production: every configuration runs compiled code,
 * none pays for TypeScript's on-the-fly loader.
 */
export function buildServers(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', dir], { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`compiling the servers failed:\n${built.stdout}${built.stderr}`);
  cpSync(join(ROOT, 'schema'), join(dir, 'schema'), { recursive: true });
}

/** A free loopback port (the kernel's choice), handed to the server as PORT. */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Starts one configuration as its own process, exactly as it would be deployed
 * (`node dist/src/main.js` for freshgraph), plus the probe, and waits until
 * its health check answers.
 */
export async function startServer(spec: ServerSpec, timeoutMs = 60_000): Promise<ServerProcess> {
  const port = await freePort();
  const configuration = CONFIGURATION[spec.name];
  const entry = join(spec.buildDir, configuration.entry);
  const nodeArgs = ['--enable-source-maps', '--import', pathToFileURL(join(spec.buildDir, 'bench/probe.js')).href];
  // One directory per configuration; V8 names the files by pid and thread.
  if (spec.profileDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${join(spec.profileDir, spec.name)}`);
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...(spec.databaseUrl === undefined ? {} : { DATABASE_URL: spec.databaseUrl }),
      ...spec.cache,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      ...configuration.env,
      ...spec.env,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode} while starting:\n${output.join('')}`);
    try {
      const res = await fetch(`${url}${configuration.health.path}`, { headers: configuration.health.headers });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${spec.name} did not answer ${configuration.health.path} within ${timeoutMs} ms:\n${output.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const pid = child.pid as number;
  return {
    name: spec.name,
    url: `${url}/graphql`,
    pid,
    child,
    recentOutput: () => output.join(''),
    stats: () =>
      new Promise<ProbeStats>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${spec.name}: no answer from the probe`)), 5000);
        const onMessage = (message: unknown) => {
          const m = message as { type?: string } & ProbeStats;
          if (m?.type !== 'probe:stats') return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve({ sql: m.sql, redis: m.redis, roundTrips: m.roundTrips, hits: m.hits, misses: m.misses, graphqlErrors: m.graphqlErrors, cpuUs: m.cpuUs, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal });
        };
        child.on('message', onMessage);
        // With a callback, a server that has died fails this call instead of crashing the bench (before it could clean up).
        child.send('probe:stats', (err) => {
          if (err === null) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          reject(new Error(`${spec.name} is not running any more (exit ${child.exitCode ?? child.signalCode ?? 'unknown'})`, { cause: err }));
        });
      }),
    rss: () => {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
      return kb === undefined ? Number.NaN : Number(kb) * 1024;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
