import type { Knex } from 'knex';

/**
 * The shapes of cached values that instances serve (src/entities/shapes.ts),
 * each with when an instance serving it last started: during a deploy that
 * changes a type, the most recently started shape is the one that fills the
 * cache, so two shapes do not keep replacing each other.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table cache_shapes (
      kind       text        not null,
      shape      text        not null,
      started_at timestamptz not null default now(),
      primary key (kind, shape)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists cache_shapes');
}
