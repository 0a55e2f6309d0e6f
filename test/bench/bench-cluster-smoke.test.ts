import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import knexPkg from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_DATABASE_URL } from '../helpers/services.js';

// `npm run bench -- --cluster` end to end on a tiny data set: it starts its own redis-server and
// Redis Cluster, runs freshgraph on each, writes its report, and stops every Redis it started,
// also when it is interrupted. No timing is asserted.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
const database = `fgsmokecl_${run}`;
const out = mkdtempSync(join(tmpdir(), 'fgsmokecl-'));

const admin = knexPkg.knex({ client: 'pg', connection: ADMIN_DATABASE_URL, pool: { min: 0, max: 1 } });

afterAll(async () => {
  const left = await admin.raw(`select datname from pg_database where datname like ?`, [`${database}%`]);
  for (const { datname } of left.rows as { datname: string }[]) await admin.raw(`drop database if exists "${datname}" with (force)`);
  await admin.destroy();
  rmSync(out, { recursive: true, force: true });
});

function bench(args: readonly string[]): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => output, exit };
}

const common = ['--cluster', '--products', '300', '--warmup', '0', '--rounds', '1', '--connections', '4', '--database-url', ADMIN_DATABASE_URL, '--database', database, '--out', out];

/** The ports of the Redis servers the bench said it started. */
function redisPorts(output: string): number[] {
  const line = /started redis-server on (.*)/.exec(output)?.[1] ?? '';
  return [...line.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function copiesLeft(): Promise<string[]> {
  const result = await admin.raw(`select datname from pg_database where datname like ?`, [`${database}_cluster_%`]);
  return (result.rows as { datname: string }[]).map((r) => r.datname);
}

describe('npm run bench -- --cluster', () => {
  it('compares freshgraph on one Redis with freshgraph on a Redis Cluster, and stops the Redis servers it started', async () => {
    const { output, exit } = bench([...common, '--duration', '1', '--workload', 'product,products,mutation']);
    const code = await exit;
    expect(code, output()).toBe(0);

    const ports = redisPorts(output());
    expect(ports, output()).toHaveLength(7); // one redis-server, six cluster nodes
    for (const port of ports) expect(await accepts(port), `port ${port} still open`).toBe(false);
    expect(await copiesLeft()).toEqual([]);
    expect(output()).toMatch(/response bodies: \d+ sample requests answered with the same bytes by freshgraph, freshgraph-cluster/);

    const markdown = readdirSync(out).find((f) => /^cluster-.*\.md$/.test(f));
    expect(markdown, output()).toBeDefined();
    const report = readFileSync(join(out, markdown as string), 'utf8');
    const rows = report.split('\n').filter((l) => /^\| .* \| (freshgraph|freshgraph-cluster) \|/.test(l));
    // Three workloads, two configurations, every one answered without errors and from a warm cache.
    expect(rows, report).toHaveLength(6);
    for (const line of rows) expect(line.split('|')[6]?.trim(), line).toBe('0');
    const section = report.slice(report.indexOf('## Redis Cluster against one Redis'), report.indexOf('## How each column'));
    const ratioRows = section.split('\n').filter((l) => l.startsWith('| `'));
    expect(ratioRows, section).toHaveLength(3);
    // Every figure is there for both: req/s, latencies, the ratio, round trips, commands, server and Redis CPU.
    for (const line of ratioRows) expect(line, line).toMatch(/^\|[^|]+\|( [\d,.]+ \/ [\d,.]+ \|){3} \d+\.\d\d× \(p50 \d+\.\d\d×, p99 \d+\.\d\d×\) \|( [\d,.]+ \/ [\d,.]+ \|){4}$/);
    // A batch on the cluster asks each of the three masters once at most, with one command for all the keys it
    // serves (fewer when concurrent requests' reads go out together), where one GET per key would be about 100.
    const products = ratioRows.find((l) => l.includes('products(ids)')) as string;
    const [, clusterRoundTrips] = (products.split('|')[6] ?? '').split('/').map(Number);
    const [, clusterCommands] = (products.split('|')[7] ?? '').split('/').map(Number);
    expect(clusterRoundTrips, products).toBeGreaterThan(0);
    expect(clusterRoundTrips, products).toBeLessThan(3.5);
    expect(clusterCommands, products).toBeLessThan(3.5);
    const json = JSON.parse(readFileSync(join(out, (markdown as string).replace(/\.md$/, '.json')), 'utf8')) as { clusterOverOneRedis: Record<string, { rps: number }> };
    expect(Object.keys(json.clusterOverOneRedis)).toEqual(['product', 'products', 'mutation']);
  }, 360_000);

  it('stops its Redis servers and drops its copies of the data when interrupted', async () => {
    const { child, output, exit } = bench([...common, '--duration', '60', '--workload', 'product']);
    // Interrupted in the middle of the first measured round, with every server and Redis node running.
    const deadline = Date.now() + 240_000;
    while (!/pre-warmed freshgraph-cluster/.test(output()) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(output()).toMatch(/pre-warmed freshgraph-cluster/);
    await new Promise((r) => setTimeout(r, 1500));
    const ports = redisPorts(output());
    expect(ports, output()).toHaveLength(7);
    child.kill('SIGINT');
    expect(await exit, output()).toBe(130);
    for (const port of ports) expect(await accepts(port), `port ${port} still open`).toBe(false);
    expect(await copiesLeft()).toEqual([]);
  }, 360_000);
});
