import type { Knex } from 'knex';
import * as productsAndAccounts from './001-products-and-accounts.js';
import * as cacheOutbox from './002-cache-outbox.js';
import * as outboxAsQueue from './003-outbox-as-queue.js';
import * as orders from './004-orders.js';
import * as outboxRecordedBy from './005-outbox-recorded-by.js';
import * as lists from './006-lists.js';
import * as categoryRules from './008-category-rules.js';
import * as cacheShapes from './009-cache-shapes.js';
import * as outboxConstraints from './007-outbox-constraints.js';
import { asOtherWriter } from '../outbox-triggers.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** In order; never rename or edit one that has shipped, add a new one instead. */
const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [
  ['001-products-and-accounts', productsAndAccounts],
  ['002-cache-outbox', cacheOutbox],
  ['003-outbox-as-queue', outboxAsQueue],
  ['004-orders', orders],
  ['005-outbox-recorded-by', outboxRecordedBy],
  ['006-lists', lists],
  ['007-outbox-constraints', outboxConstraints],
  ['008-category-rules', categoryRules],
  ['009-cache-shapes', cacheShapes],
];

/**
 * Migrations are compiled in rather than discovered on disk, so they run the
 * same under tsx, a bundler or a test runner.
 */
const source: Knex.MigrationSource<string> = {
  getMigrations: async () => MIGRATIONS.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = MIGRATIONS.find(([n]) => n === name);
    if (!found) throw new Error(`Unknown migration ${name}`);
    const [, migration] = found;
    // The server's pool says it is the API, whose writes the outbox triggers skip; a migration that
    // rewrites rows is another writer, and its changes must reach the cache like any other program's.
    return { up: (knex: Knex) => asOtherWriter(knex, 'migration', migration.up), down: (knex: Knex) => asOtherWriter(knex, 'migration', migration.down) };
  },
};

/** Applies pending migrations; returns the names applied. */
export async function migrateToLatest(knex: Knex): Promise<string[]> {
  // A newer instance may have applied migrations this one does not know (a deploy under way): that is no reason not to start.
  const [, applied] = (await knex.migrate.latest({ migrationSource: source, disableMigrationsListValidation: true })) as [number, string[]];
  return applied;
}
