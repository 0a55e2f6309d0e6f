import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { composeSupergraph, loadSupergraphConfig, SupergraphConfigError } from '../supergraph.js';

/**
 * `npm run compose [-- --config supergraph.yaml] [--out supergraph.graphql]`: composes our SDL
 * with the subgraphs the config names and prints the supergraph SDL (or writes it to --out).
 * Exit codes: 0 composed, 1 composition errors, 2 a bad config or arguments.
 */
let values: { config: string; out?: string };
try {
  ({ values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c', default: 'supergraph.yaml' },
      out: { type: 'string', short: 'o' },
    },
  }) as { values: { config: string; out?: string } });
} catch (err) {
  console.error(`${(err as Error).message}\nusage: npm run compose -- [--config supergraph.yaml] [--out supergraph.graphql]`);
  process.exit(2);
}

try {
  const subgraphs = await loadSupergraphConfig(values.config);
  const outcome = composeSupergraph(subgraphs);
  if (!outcome.ok) {
    console.error(`Composition of ${subgraphs.map((s) => s.name).join(', ')} failed:`);
    for (const error of outcome.errors) console.error(`  error: ${error}`);
    process.exit(1);
  }
  for (const hint of outcome.hints) console.error(`hint: ${hint}`);
  if (values.out === undefined) {
    process.stdout.write(outcome.supergraphSdl.endsWith('\n') ? outcome.supergraphSdl : `${outcome.supergraphSdl}\n`);
  } else {
    await writeFile(values.out, `${outcome.supergraphSdl}\n`);
    console.error(`Composed ${subgraphs.map((s) => s.name).join(', ')} into ${values.out}`);
  }
} catch (err) {
  if (!(err instanceof SupergraphConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}
