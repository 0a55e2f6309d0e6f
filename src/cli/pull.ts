import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { PullRefusal } from '../pull/plan.js';
import { pulledBefore } from '../pull/project.js';
import { pull } from '../pull/pull.js';
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
if (positionals.length === 0 && pulledBefore(root).length === 0) {
  console.error('usage: npm run pull -- <table> [<table> ...]   (reads DATABASE_URL)');
  process.exit(2);
}

const config = loadConfig();
const db = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
let code = 0;
try {
  const { plans, outputs } = await pull(root, db.knex, positionals);
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
