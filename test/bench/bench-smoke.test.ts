import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import knexPkg from 'knex';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteByPrefix } from '../helpers/app.js';
import { ADMIN_DATABASE_URL, REDIS_URL } from '../helpers/services.js';

// `npm run bench` end to end on a tiny data set for about a second per workload: it seeds,
// starts the five configurations, checks that they answer alike, drives them and writes its
// report. No timing is asserted.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
const database = `fgsmoke_${run}`;
const prefix = `fgsmoke-${run}`;
const out = mkdtempSync(join(tmpdir(), 'fgsmoke-'));
const CONFIGURATIONS = ['freshgraph', 'freshgraph-local', 'cache-off', 'response-cache', 'plain-apollo', 'http-ceiling'];

afterAll(async () => {
  const admin = knexPkg.knex({ client: 'pg', connection: ADMIN_DATABASE_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${database} with (force)`);
  await admin.destroy();
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
  rmSync(out, { recursive: true, force: true });
});

describe('npm run bench', () => {
  it('runs every configuration end to end and writes a report and a chart', async () => {
    const args = [
      '--import', 'tsx', 'bench/run.ts',
      '--quick', '--products', '300', '--accounts', '100', '--duration', '1', '--warmup', '0', '--rounds', '1', '--connections', '4',
      '--workload', 'product,products,entities,mix95,mutation1,list,listmix95,order,create,categorize',
      '--database-url', ADMIN_DATABASE_URL, '--database', database,
      '--redis-url', REDIS_URL, '--prefix', prefix, '--out', out,
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, output).toBe(0);

    const files = readdirSync(out);
    const markdown = files.find((f) => f.endsWith('.md'));
    expect(markdown, output).toBeDefined();
    expect(files.some((f) => f.endsWith('.svg'))).toBe(true);
    const report = readFileSync(join(out, markdown as string), 'utf8');
    // Before measuring, the bench compared the answers of every configuration (it stops on a difference).
    expect(output).toMatch(/response bodies: \d+ sample requests answered with the same bytes by freshgraph, freshgraph-local, cache-off, response-cache, plain-apollo, http-ceiling/);
    // The text of one `## ` section of the report, up to the next.
    const section = (title: string) => {
      const from = report.indexOf(`## ${title}`);
      expect(from, `section ${title}`).toBeGreaterThanOrEqual(0);
      const to = report.indexOf('\n## ', from + 3);
      return report.slice(from, to < 0 ? undefined : to);
    };
    const results = section('Results');
    const rows = results.split('\n').filter((l) => new RegExp(`^\\| .* \\| (${CONFIGURATIONS.join('|')}) \\|`).test(l));
    // Ten workloads, six configurations, and every one answered without errors.
    expect(rows, report).toHaveLength(60);
    for (const line of rows) expect(line.split('|')[6]?.trim(), line).toBe('0');
    expect(report).toContain('## Targets');
    // One ratio row per workload, with a figure for every peer and the ceiling.
    const ratioSection = section('freshgraph against each configuration');
    expect(ratioSection).toContain('| workload | vs plain-apollo | vs response-cache | vs `CACHE_MODE=off` | share of http-ceiling |');
    const ratioRows = ratioSection.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| workload'));
    expect(ratioRows, ratioSection).toHaveLength(10);
    for (const line of ratioRows) expect(line, line).toMatch(/^\|[^|]+(\| \d+\.\d\d× \(p50 \d+\.\d\d×\) ){3}\| \d+\.\d %/);
    // The list mixed workload checked reads of every configuration with data for stale lists; freshgraph served none.
    const staleSection = section('Stale lists');
    const staleRows = staleSection.split('\n').filter((l) => l.startsWith('| mix 95 % `orders'));
    expect(staleRows.map((l) => l.split('|')[2]?.trim()), staleSection).toEqual(['freshgraph', 'freshgraph-local', 'cache-off', 'response-cache', 'plain-apollo']);
    // Neither freshgraph, with the local copy or without, served a stale list.
    expect(staleRows.slice(0, 2).map((l) => l.split('|')[3]?.trim()), staleSection).toEqual(['0', '0']);
    expect(report).toMatch(/\| freshgraph stale lists \(list mixed workload\) \| 0 \| 0 of \d+/);
    const svg = readFileSync(join(out, files.find((f) => f.endsWith('.svg')) as string), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
  }, 360_000);
});
