import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrations/index.js';
import { seed } from '../db/seed.js';
import { progressBar } from './progress.js';

/**
 * `npm run seed -- --products 100000 --accounts 1000`: demo data in DATABASE_URL
 * (or the embedded database). Idempotent. It writes only the database: the
 * cache fills itself on first read, and nothing stale can be in it for rows
 * that did not exist.
 */
const { values } = parseArgs({
  options: {
    products: { type: 'string', default: '1000' },
    accounts: { type: 'string', default: '100' },
  },
});
const products = Number(values.products);
const accounts = Number(values.accounts);
if (!Number.isSafeInteger(products) || products < 0 || !Number.isSafeInteger(accounts) || accounts < 0) {
  console.error('--products and --accounts take a whole number of 0 or more');
  process.exit(2);
}
const config = loadConfig();
const db = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
try {
  await migrateToLatest(db.knex);
  const added = await seed(db.knex, { products, accounts, onProgress: progressBar('seeding') });
  console.log(`${db.location}: added ${added.products} products and ${added.accounts} accounts`);
} finally {
  await db.close();
}
