import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrations/index.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database). */
const config = loadConfig();
const db = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
try {
  const applied = await migrateToLatest(db.knex);
  console.log(applied.length === 0 ? `${db.location}: already up to date` : `${db.location}: applied ${applied.join(', ')}`);
} finally {
  await db.close();
}
