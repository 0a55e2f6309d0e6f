import type { Knex } from 'knex';

/**
 * A category's rules in the table itself, so that every writer keeps them:
 * `createCategory` checks them first for clear messages, the generic
 * `updateCategory` and other programs meet them here (a slug is lower-case
 * words joined by single dashes, at most 64 characters; a name is not blank).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table categories
    add constraint categories_slug_form check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 64),
    add constraint categories_name_form check (length(btrim(name)) > 0 and length(name) <= 200)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table categories drop constraint if exists categories_slug_form, drop constraint if exists categories_name_form');
}
