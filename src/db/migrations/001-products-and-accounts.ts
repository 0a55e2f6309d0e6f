import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table products (
      id          uuid        primary key,
      sku         text        not null unique,
      name        text        not null,
      price_cents integer     not null check (price_cents >= 0),
      stock       integer     not null check (stock >= 0),
      version     integer     not null default 1 check (version >= 1),
      updated_at  timestamptz not null default now()
    )`);
  await knex.raw(`
    create table accounts (
      id            uuid        primary key,
      owner         text        not null,
      balance_cents integer     not null check (balance_cents >= 0),
      version       integer     not null default 1 check (version >= 1),
      updated_at    timestamptz not null default now()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists accounts');
  await knex.raw('drop table if exists products');
}
