import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrations/index.js';
import { installOutboxTriggers } from '../db/outbox-triggers.js';
import { ENTITIES, LISTS } from '../entities/index.js';

/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL (or the
 * embedded database) and gives every entity table its outbox triggers, as the
 * server does at every start.
 */
const config = loadConfig();
const db = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
try {
  const applied = await migrateToLatest(db.knex);
  const triggers = await installOutboxTriggers(db.knex, ENTITIES, LISTS);
  console.log(applied.length === 0 ? `${db.location}: already up to date` : `${db.location}: applied ${applied.join(', ')}`);
  if (triggers.installed.length > 0) console.log(`outbox triggers installed on ${triggers.installed.join(', ')}`);
  if (triggers.removed.length > 0) console.log(`outbox triggers removed from ${triggers.removed.join(', ')}`);
} finally {
  await db.close();
}
