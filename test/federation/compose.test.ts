import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { validateSatisfiability } from '@apollo/composition';
import { afterAll, describe, expect, it } from 'vitest';
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

describe('npm run compose', () => {
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

  it('writes the supergraph to --out, adding freshgraph from schema/ when the config omits it', async () => {
    const config = writeConfig(
      'only-reviews.yaml',
      `subgraphs:\n  reviews:\n    routing_url: http://127.0.0.1:4002/graphql\n    schema:\n      file: ${join(ROOT, 'examples/reviews.graphql')}\n`,
    );
    const out = join(dir, 'supergraph.graphql');
    const { code, stdout, stderr } = await compose('--config', config, '--out', out);
    expect(code, stderr).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/Composed freshgraph, reviews into/);
    expect(readFileSync(out, 'utf8')).toMatch(/FRESHGRAPH @join__graph\(name: "freshgraph", url: "http:\/\/localhost:4000\/graphql"\)/);
  });

  it('reads a running subgraph through schema.subgraph_url', async () => {
    app = await startTestApp();
    const config = writeConfig(
      'running.yaml',
      `subgraphs:\n  freshgraph:\n    schema:\n      subgraph_url: ${app.url}\n  reviews:\n    routing_url: http://127.0.0.1:4002/graphql\n    schema:\n      file: ${join(ROOT, 'examples/reviews.graphql')}\n`,
    );
    const { code, stdout, stderr } = await compose('--config', config);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`FRESHGRAPH @join__graph(name: "freshgraph", url: "${app.url}")`);
  });

  it('prints composition errors and exits 1', async () => {
    const sdl = join(dir, 'clash.graphql');
    writeFileSync(
      sdl,
      `extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])\n` +
        `type Product @key(fields: "id") { id: ID! name: Int! }\ntype Query { cheapest: Product }\n`,
    );
    const config = writeConfig('clash.yaml', `subgraphs:\n  pricing:\n    routing_url: http://127.0.0.1:4003/graphql\n    schema:\n      file: ./clash.graphql\n`);
    const { code, stdout, stderr } = await compose('--config', config);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/Composition of freshgraph, pricing failed/);
    expect(stderr).toMatch(/Product\.name/);
  });

  it('explains a bad config and exits 2', async () => {
    const missing = await compose('--config', join(dir, 'nope.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Cannot read .*nope\.yaml/);

    const config = writeConfig('bad.yaml', `subgraphs:\n  reviews:\n    schema:\n      file: ./x.graphql\n      extra: 1\n`);
    const bad = await compose('--config', config);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/subgraphs\.reviews\.schema/);
  });
});
