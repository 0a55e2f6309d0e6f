import type { Knex } from 'knex';

/**
 * Rules the outbox keeps itself, so that a row no repair could apply is refused
 * when it is written, not discovered by every repair pass after:
 * - `entity` names a cached type (`Product`) or a list (`Account.orders`,
 *   `Query.productCatalog`); `entity_id` is short enough to be part of a cache
 *   key; `version` is not negative; `recorded_by` is `api` or `trigger`.
 *   Whether `entity_id` is a key of that kind depends on the entity
 *   definitions, so that check is a trigger installed at start with the
 *   others (outbox-triggers.ts), not a constraint.
 * - `cache_outbox_rejected`: the rows the repair worker could not apply (an
 *   unknown kind, a load that failed for that row alone), set aside with the
 *   reason and the time, so that they stop no other row; an operator replays
 *   one by inserting it into the outbox again.
 * Rows already waiting that break the new rules are set aside first, so that
 * adding the constraints cannot fail on them.
 */
const ENTITY_SHAPE = `entity ~ '^[A-Z][A-Za-z0-9]*([.][_A-Za-z][_A-Za-z0-9]*){0,1}$'`;
const RULES: readonly (readonly [name: string, check: string])[] = [
  ['cache_outbox_entity_shape', ENTITY_SHAPE],
  ['cache_outbox_entity_id_length', 'char_length(entity_id) <= 200'],
  ['cache_outbox_version_not_negative', 'version >= 0'],
  ['cache_outbox_recorded_by_known', `recorded_by in ('api', 'trigger')`],
];

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table cache_outbox_rejected (
      id          bigint      primary key,
      entity      text        not null,
      entity_id   text        not null,
      version     integer     not null,
      recorded_by text        not null,
      created_at  timestamptz not null,
      rejected_at timestamptz not null default now(),
      reason      text        not null
    )`);
  const broken = RULES.map(([, check]) => `not (${check})`).join(' or ');
  await knex.raw(`
    with moved as (delete from cache_outbox where ${broken} returning *)
    insert into cache_outbox_rejected (id, entity, entity_id, version, recorded_by, created_at, reason)
    select id, entity, entity_id, version, recorded_by, created_at, 'breaks a rule of migration 007-outbox-constraints' from moved`);
  for (const [name, check] of RULES) await knex.raw(`alter table cache_outbox add constraint ${name} check (${check})`);
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of RULES) await knex.raw(`alter table cache_outbox drop constraint if exists ${name}`);
  await knex.raw('drop table if exists cache_outbox_rejected');
}
