import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { validateSatisfiability } from '@apollo/composition';
import { afterAll, describe, expect, it } from 'vitest';
import { composeSupergraph, loadSupergraphConfig, SupergraphConfigError } from '../../src/supergraph.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'freshgraph-compose-'));
let app: TestApp | undefined;

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The compose script as its own process: through npm exactly as a user types it, or straight through node (faster). */
async function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout: string; stderr: string };
    return { code: e.code ?? -1, stdout: e.stdout, stderr: e.stderr };
  }
}
// -s keeps npm's own banner out of stdout.
const npmRunCompose = (...args: string[]) => run('npm', ['run', '-s', 'compose', '--', ...args]);
const compose = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/compose.ts', ...args]);

function writeConfig(name: string, yaml: string): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

// Each spawn loads tsx and @apollo/composition: seconds on a busy machine.
const SPAWN_TIMEOUT_MS = 120_000;

describe('npm run compose', { timeout: SPAWN_TIMEOUT_MS }, () => {
  it('composes the example supergraph.yaml: freshgraph and reviews', async () => {
    const { code, stdout, stderr } = await npmRunCompose();
    expect(code, stderr).toBe(0);
    // A supergraph a router can plan queries on, not just text that looks like one.
    expect(validateSatisfiability({ supergraphSdl: stdout }).errors).toBeUndefined();
    expect(stdout).toMatch(/FRESHGRAPH @join__graph\(name: "freshgraph", url: "http:\/\/localhost:4000\/graphql"\)/);
    expect(stdout).toMatch(/REVIEWS @join__graph\(name: "reviews", url: "http:\/\/localhost:4002\/graphql"\)/);
    expect(stdout).toMatch(/reviews: \[Review!\]! @join__field\(graph: REVIEWS\)/);
    expect(stdout).toMatch(/topReviews\(first: Int! = 10\): \[Review!\]! @join__field\(graph: REVIEWS\)/);
  });

  it('writes to --out; prints composition errors and exits 1; explains a bad config and exits 2', async () => {
    const out = join(dir, 'supergraph.graphql');
    const written = await compose('--config', join(ROOT, 'supergraph.yaml'), '--out', out);
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toBe('');
    expect(written.stderr).toMatch(/Composed freshgraph, reviews into/);
    expect(readFileSync(out, 'utf8')).toMatch(/REVIEWS @join__graph/);

    writeFileSync(
      join(dir, 'clash.graphql'),
      `extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])\n` +
        `type Product @key(fields: "id") { id: ID! name: Int! }\ntype Query { cheapest: Product }\n`,
    );
    const clash = writeConfig('clash.yaml', `subgraphs:\n  pricing:\n    routing_url: http://127.0.0.1:4003/graphql\n    schema:\n      file: ./clash.graphql\n`);
    const failed = await compose('--config', clash);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toMatch(/Composition of freshgraph, pricing failed/);
    expect(failed.stderr).toMatch(/INVALID_FIELD_SHARING: .*Product\.name/);

    const bad = await compose('--config', join(dir, 'nope.yaml'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Cannot read .*nope\.yaml/);
  });
});

describe('supergraph config', () => {
  it('adds freshgraph from schema/ when the config omits it', async () => {
    const config = writeConfig(
      'only-reviews.yaml',
      `subgraphs:\n  reviews:\n    routing_url: http://127.0.0.1:4002/graphql\n    schema:\n      file: ${join(ROOT, 'examples/reviews.graphql')}\n`,
    );
    const subgraphs = await loadSupergraphConfig(config);
    expect(subgraphs.map((s) => [s.name, s.routingUrl])).toEqual([
      ['freshgraph', 'http://localhost:4000/graphql'],
      ['reviews', 'http://127.0.0.1:4002/graphql'],
    ]);
    const outcome = composeSupergraph(subgraphs);
    expect(outcome.ok && outcome.supergraphSdl).toMatch(/FRESHGRAPH @join__graph/);
  });

  it('reads a running subgraph through schema.subgraph_url', async () => {
    app = await startTestApp();
    const config = writeConfig(
      'running.yaml',
      `subgraphs:\n  freshgraph:\n    schema:\n      subgraph_url: ${app.url}\n  reviews:\n    routing_url: http://127.0.0.1:4002/graphql\n    schema:\n      file: ${join(ROOT, 'examples/reviews.graphql')}\n`,
    );
    const subgraphs = await loadSupergraphConfig(config);
    expect(subgraphs[0]).toMatchObject({ name: 'freshgraph', routingUrl: app.url, origin: app.url });
    const outcome = composeSupergraph(subgraphs);
    expect(outcome.ok && outcome.supergraphSdl).toContain(`FRESHGRAPH @join__graph(name: "freshgraph", url: "${app.url}")`);
  });

  it('names what is wrong with a config', async () => {
    const cases: [string, RegExp][] = [
      ['subgraphs:\n  reviews:\n    schema:\n      file: ./x.graphql\n      extra: 1\n', /subgraphs\.reviews\.schema/],
      ['subgraphs:\n  reviews:\n    schema:\n      file: ./x.graphql\n', /subgraphs\.reviews needs a routing_url/],
      ['subgraphs:\n  reviews:\n    routing_url: http://127.0.0.1:1/graphql\n', /subgraphs\.reviews needs schema\.file/],
      ['subgraphs:\n  reviews:\n    routing_url: http://127.0.0.1:1/graphql\n    schema:\n      file: ./missing.graphql\n', /cannot read .*missing\.graphql/],
      ['subgraphs: [1, 2]\n', /not a supergraph config/],
      ['subgraphs: {\n', /not valid YAML/],
    ];
    for (const [yaml, message] of cases) {
      const load = loadSupergraphConfig(writeConfig('case.yaml', yaml));
      await expect(load, yaml).rejects.toThrow(SupergraphConfigError);
      await expect(load, yaml).rejects.toThrow(message);
    }
  });

  it('reports a subgraph SDL that does not parse', () => {
    const outcome = composeSupergraph([{ name: 'broken', routingUrl: 'http://127.0.0.1:1/graphql', sdl: 'type {', origin: 'broken.graphql' }]);
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.errors[0]).toMatch(/\[broken\] broken\.graphql is not valid GraphQL/);
  });
});
