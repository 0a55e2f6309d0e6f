import type { TestProject } from 'vitest/node';
import knexPkg from 'knex';
import { migrateToLatest } from '../../src/db/migrations/index.js';
import { ADMIN_DATABASE_URL, databaseUrl } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

/**
 * One database per test run, named after the run, so parallel runs on one
 * machine never share rows; dropped at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const name = `freshgraph_test_${Date.now().toString(36)}_${process.pid}`;
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
  project.provide('databaseUrl', url);

  return async () => {
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
  };
}
