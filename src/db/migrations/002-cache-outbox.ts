import type { Knex } from 'knex';

/**
 * The transactional outbox of cache writes: each mutation records what it is
 * about to write through, in its own transaction; rows are cleared once the
 * cache has them, and replayed by the repair worker if it never did.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table cache_outbox (
      id         bigserial   primary key,
      entity     text        not null,
      entity_id  text        not null,
      version    integer     not null,
      created_at timestamptz not null default now()
    )`);
  await knex.raw('create index cache_outbox_created_at on cache_outbox (created_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists cache_outbox');
}
