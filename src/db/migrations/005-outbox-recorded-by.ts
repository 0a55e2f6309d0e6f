import type { Knex } from 'knex';

/**
 * Who recorded an outbox row: `api` (a mutation, which writes the cache itself
 * right after its commit; the repair worker leaves such a row alone while it
 * is young) or `trigger` (another program wrote the table; nobody else will
 * bring the change to the cache, so the repair worker replays it at once).
 * A constant default: adding the column rewrites nothing, and the API's
 * inserts stay as they are.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table cache_outbox add column recorded_by text not null default 'api'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table cache_outbox drop column if exists recorded_by');
}
