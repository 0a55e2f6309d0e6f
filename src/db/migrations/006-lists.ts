import type { Knex } from 'knex';

/**
 * Lists (to-many relations) as cached values:
 * - `cache_list_versions`: each list's own version (the list's name and its
 *   owner's key; '' for a list over a whole table), raised by every committed
 *   change that adds, removes or moves a member. A list that never changed has
 *   no row: its version is 0.
 * - categories, and `product_categories` joining them to products.
 * - indexes that serve the lists' orders: an account's orders newest first,
 *   products and categories by name.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table cache_list_versions (
      list    text   not null,
      owner   text   not null,
      version bigint not null check (version >= 1),
      primary key (list, owner)
    )`);
  await knex.raw(`
    create table categories (
      id         uuid        primary key,
      name       text        not null,
      slug       text        not null unique,
      version    integer     not null default 1 check (version >= 1),
      updated_at timestamptz not null default now()
    )`);
  await knex.raw(`
    create table product_categories (
      product_id  uuid not null references products (id),
      category_id uuid not null references categories (id),
      primary key (product_id, category_id)
    )`);
  await knex.raw('create index product_categories_category on product_categories (category_id, product_id)');
  await knex.raw('create index orders_account_newest on orders (account_id, created_at desc, id desc)');
  await knex.raw('drop index if exists orders_account_id');
  await knex.raw('create index products_by_name on products (name, id)');
  await knex.raw('create index categories_by_name on categories (name, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists products_by_name');
  await knex.raw('create index if not exists orders_account_id on orders (account_id)');
  await knex.raw('drop index if exists orders_account_newest');
  await knex.raw('drop table if exists product_categories');
  await knex.raw('drop table if exists categories');
  await knex.raw('drop table if exists cache_list_versions');
}
