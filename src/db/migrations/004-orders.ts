import type { Knex } from 'knex';

/**
 * Orders, with their lines in the order's own row: an order is placed once and
 * read whole, so one cache envelope holds it all. The GIN index answers "was
 * this product ever ordered?" (a product that was cannot be deleted).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table orders (
      id          uuid        primary key,
      account_id  uuid        not null references accounts (id),
      lines       jsonb       not null check (jsonb_typeof(lines) = 'array' and jsonb_array_length(lines) between 1 and 100),
      total_cents integer     not null check (total_cents >= 0),
      version     integer     not null default 1 check (version >= 1),
      created_at  timestamptz not null default now()
    )`);
  await knex.raw('create index orders_account_id on orders (account_id)');
  await knex.raw('create index orders_lines on orders using gin (lines jsonb_path_ops)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists orders');
}
