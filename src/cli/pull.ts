import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config.js';
import { readCatalog } from '../db/catalog.js';
import { openDatabase } from '../db/database.js';
import { PullRefusal, planPull } from '../pull/plan.js';
import { outputsOf, pulledBefore, readExisting, writeOutputs } from '../pull/project.js';
import { RegionEdited } from '../pull/regions.js';

/**
 * `npm run pull -- <table> [<table> ...]`: puts tables of DATABASE_URL behind
 * the cache. Reads the catalog and writes, for each table, its definition
 * (src/entities/, added to ENTITIES), its SDL (schema/) and the migration that
 * gives it a version column; a join table becomes a many-to-many relation.
 * The tables pulled before are pulled again with them, so relations between
 * them come out both ways; with no table named, those alone. Writes nothing
 * when it refuses (exit code 1). docs/adopt.md walks through it.
 */
const { positionals } = parseArgs({ allowPositionals: true, options: {} });
const root = fileURLToPath(new URL('../..', import.meta.url));
const before = pulledBefore(root);
// In name order, so that pulling the same tables again writes the same files.
const tables = [...new Set([...before, ...positionals])].sort();
if (tables.length === 0) {
  console.error('usage: npm run pull -- <table> [<table> ...]   (reads DATABASE_URL)');
  process.exit(2);
}

const config = loadConfig();
const db = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
let code = 0;
try {
  const catalog = await readCatalog(db.knex, tables);
  const plans = planPull(catalog, tables, readExisting(root));
  const outputs = outputsOf(root, plans);
  writeOutputs(root, outputs);
  for (const plan of plans) {
    const what = plan.kind === 'entity' ? `${plan.type} (${plan.fields.length} columns, ${plan.relations.length} to-one, ${plan.lists.length} to-many)` : `join table of ${plan.sides.map((s) => s.type).join(' and ')}`;
    console.log(`${plan.table}: ${what}`);
  }
  for (const output of outputs) console.log(`  ${output.created ? 'wrote' : 'updated'} ${output.path}`);
  if (outputs.length === 0) console.log('  nothing changed');
  else console.log('Next: review these files (docs/adopt.md), then `npm run codegen`, `npm run typecheck` and `npm start` (which migrates and installs the triggers).');
} catch (err) {
  if (!(err instanceof PullRefusal) && !(err instanceof RegionEdited)) throw err;
  console.error(`pull refused, and wrote nothing:\n${err.message.replace(/^/gm, '  ')}`);
  code = 1;
} finally {
  await db.close();
}
process.exitCode = code;

