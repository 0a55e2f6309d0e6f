import { randomBytes } from 'node:crypto';
import knexPkg from 'knex';
import { migrateToLatest } from '../../src/db/migrations/index.js';
import { ADMIN_DATABASE_URL, databaseUrl } from './services.js';

export interface ScratchDatabase {
  readonly name: string;
  readonly url: string;
  /** The URL with an application_name, so a test can find (and terminate) exactly its own connections. */
  urlFor(applicationName: string): string;
  drop(): Promise<void>;
}

/**
 * A migrated database of its own: one per test run (global-setup.ts), and one per
 * test file whose subject is shared state (the outbox) that other files' servers
 * would otherwise touch.
 */
export async function createScratchDatabase(label: string): Promise<ScratchDatabase> {
  const name = `freshgraph_${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = knexPkg.knex({ client: 'pg', connection: ADMIN_DATABASE_URL, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`create database ${name}`);
  } catch (err) {
    await admin.destroy();
    throw new Error(
      `Cannot create a test database through ${ADMIN_DATABASE_URL}. Is Postgres running? ` +
        `Set TEST_DATABASE_ADMIN_URL to a role that may create databases.`,
      { cause: err },
    );
  }
  const url = databaseUrl(name);
  const db = knexPkg.knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  await migrateToLatest(db);
  await db.destroy();
  return {
    name,
    url,
    urlFor(applicationName) {
      const u = new URL(url);
      u.searchParams.set('application_name', applicationName);
      return u.toString();
    },
    async drop() {
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}
