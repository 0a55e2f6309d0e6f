import type { Knex } from 'knex';

/**
 * The outbox is a queue: every mutation inserts rows that are deleted a few
 * milliseconds later. Its primary key already orders rows by age, so the
 * created_at index only cost every insert and delete; and the table needs
 * vacuuming by row count, not by a share of its (tiny) size.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists cache_outbox_created_at');
  await knex.raw(
    'alter table cache_outbox set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table cache_outbox reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay)');
  await knex.raw('create index if not exists cache_outbox_created_at on cache_outbox (created_at)');
}
