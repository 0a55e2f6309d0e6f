import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { ColumnKind, EntityDefinition } from '../entities/define.js';
import { joinTablesOf, type ListDefinition } from '../entities/lists.js';
import { affectedLists, bumpListVersions, listsTouching, literal } from './list-sql.js';
import { rowsOf } from './rows.js';

/**
 * Writes that bypass the API (a migration, an admin's psql, another service)
 * reach the cache through triggers on every entity table, generated from the
 * entity definitions:
 * - BEFORE UPDATE, per row: a writer that did not raise `version` gets
 *   OLD.version + 1 (a writer that raised it keeps its value); an UPDATE that
 *   moves a row to another id also records the old id, whose key gets a tombstone;
 * - AFTER INSERT / UPDATE / DELETE, per statement: one outbox row per changed
 *   row (`recorded_by = 'trigger'`, the version the cache must reach; a
 *   deletion's is the deleted version + 1, as for the API), in one INSERT from
 *   the statement's transition table; the version of every list the statement
 *   affects raised (a member added, removed, moved to another owner or within
 *   its order; a join row added or removed: both sides), each with an outbox
 *   row of its own; then one NOTIFY that wakes the repair workers.
 * Join tables get the list part alone: they hold no entity.
 * The outbox itself gets a check, generated from the same definitions, that
 * refuses a row another writer adds by hand unless it names a kind of cached
 * value and a key of that kind (outboxCheckStatements below).
 *
 * The API records its own changes in the same statement that makes them
 * (outbox-repository.ts), so its connections carry `freshgraph.writer = api`
 * and every trigger has a WHEN clause that is false for them: no trigger
 * function runs for an API write, and it gets no second outbox row. Not quite
 * free: Postgres locks an UPDATE's old row for a BEFORE ROW trigger before it
 * evaluates WHEN (one more WAL record per row not locked yet), and a transition
 * table costs a little per statement; docs/bypass-writes.md has the figures.
 */

/** The session setting that tells the triggers who is writing. */
export const WRITER_SETTING = 'freshgraph.writer';
/** The value with which a writer says it brings its changes to the cache itself. */
export const API_WRITER = 'api';
/** The channel the triggers NOTIFY after recording changes. */
export const OUTBOX_CHANNEL = 'freshgraph_outbox';
/** `cache_outbox.recorded_by` of the rows the triggers write. */
export const TRIGGER_RECORDED = 'trigger';

const PREFIX = 'freshgraph_';
const TRIGGERS = ['freshgraph_version', 'freshgraph_record_insert', 'freshgraph_record_update', 'freshgraph_record_delete'] as const;
/** Longest table name whose function names still fit Postgres' 63 characters. */
const MAX_TABLE_LENGTH = 63 - PREFIX.length - '_version'.length;

const NOT_API = `current_setting('${WRITER_SETTING}', true) is distinct from '${API_WRITER}'`;

/**
 * Runs `work` in the current transaction as a writer other than the API, so
 * that the triggers record what it changes. `knex` must be a transaction.
 */
export async function asOtherWriter(knex: Knex, writer: string, work: (knex: Knex) => Promise<void>): Promise<void> {
  await knex.raw('select set_config(?, ?, true)', [WRITER_SETTING, writer]);
  await work(knex);
}

/** A table the triggers watch: an entity's table, or a join table of lists. */
export interface WatchedTable {
  readonly table: string;
  /** The entity stored in it; undefined for a join table. */
  readonly entity: EntityDefinition<unknown> | undefined;
}

/** Every table whose changes must reach the cache: the entities' and the lists' join tables. */
export function watchedTables(entities: readonly EntityDefinition<unknown>[], lists: readonly ListDefinition[]): WatchedTable[] {
  return [
    ...entities.map((entity) => ({ table: entity.table, entity })),
    ...[...joinTablesOf(lists).keys()].map((table) => ({ table, entity: undefined })),
  ];
}

/** The SQL that creates (or replaces) one table's functions and triggers. */
export function triggerStatements(watched: WatchedTable, lists: readonly ListDefinition[]): string[] {
  const { table, entity } = watched;
  if (table.length > MAX_TABLE_LENGTH) {
    throw new Error(`outbox triggers: table name "${table}" is longer than ${MAX_TABLE_LENGTH} characters, too long for its trigger function names`);
  }
  const touching = listsTouching(table, lists);
  const recordEntity = (source: string, version: (v: string) => string): string => {
    if (entity === undefined) return '';
    const id = `"${entity.key.column}"`;
    const v = `"${entity.version.column}"`;
    return `insert into cache_outbox (entity, entity_id, version, recorded_by)
       select ${literal(entity.type)}, ${id}::text, ${version(v)}, '${TRIGGER_RECORDED}' from ${source};
    get diagnostics n = row_count; recorded := recorded + n;`;
  };
  const recordLists = (rows: Parameters<typeof affectedLists>[1]): string => {
    const selects = affectedLists(table, rows, touching);
    if (selects.length === 0) return '';
    return `with fg_affected as (${selects.join(' union all ')}), fg_bumped as (${bumpListVersions('fg_affected')})
      insert into cache_outbox (entity, entity_id, version, recorded_by) select list, owner, version, '${TRIGGER_RECORDED}' from fg_bumped;
    get diagnostics n = row_count; recorded := recorded + n;`;
  };
  const statements: string[] = [];
  if (entity !== undefined) {
    const id = `"${entity.key.column}"`;
    const version = `"${entity.version.column}"`;
    const type = literal(entity.type);
    statements.push(
      `create or replace function ${PREFIX}${table}_version() returns trigger language plpgsql as $fg$
begin
  if new.${version} <= old.${version} then
    new.${version} := old.${version} + 1;
  end if;
  if new.${id} is distinct from old.${id} then
    insert into cache_outbox (entity, entity_id, version, recorded_by)
      values (${type}, old.${id}::text, old.${version} + 1, '${TRIGGER_RECORDED}');
  end if;
  return new;
end $fg$`,
      `create or replace trigger freshgraph_version before update on "${table}" for each row
       when (${NOT_API} and (new.${version} <= old.${version} or new.${id} is distinct from old.${id}))
       execute function ${PREFIX}${table}_version()`,
    );
  }
  statements.push(
    `create or replace function ${PREFIX}${table}_record() returns trigger language plpgsql as $fg$
declare
  n bigint;
  recorded bigint := 0;
begin
  if tg_op = 'INSERT' then
    ${recordEntity('freshgraph_new', (v) => v)}
    ${recordLists({ inserted: 'freshgraph_new' })}
  elsif tg_op = 'UPDATE' then
    ${recordEntity('freshgraph_new', (v) => v)}
    ${recordLists({ updated: { before: 'freshgraph_old', after: 'freshgraph_new' } })}
  else
    ${recordEntity('freshgraph_old', (v) => `${v} + 1`)}
    ${recordLists({ deleted: 'freshgraph_old' })}
  end if;
  if recorded > 0 then
    perform pg_notify('${OUTBOX_CHANNEL}', '');
  end if;
  return null;
end $fg$`,
    ...(['insert', 'update', 'delete'] as const).map(
      (op) => `create or replace trigger freshgraph_record_${op} after ${op} on "${table}"
       referencing ${op === 'insert' ? 'new table as freshgraph_new' : op === 'delete' ? 'old table as freshgraph_old' : 'old table as freshgraph_old new table as freshgraph_new'}
       for each statement when (${NOT_API}) execute function ${PREFIX}${table}_record()`,
    ),
  );
  return statements;
}

/** What installing changed: tables whose triggers were (re)created or dropped. */
export interface TriggerInstallReport {
  readonly installed: readonly string[];
  readonly removed: readonly string[];
}

/**
 * Gives every entity table the triggers its definition calls for, the outbox
 * its check of the kinds and keys they define, and takes them off tables no
 * longer in the list. Idempotent and cheap when nothing
 * changed (one catalog query): a table's triggers are only replaced when the
 * fingerprint of their SQL, kept as a comment on one of them, differs, because
 * replacing a trigger takes a SHARE ROW EXCLUSIVE lock that waits for the
 * table's running writes. Instances starting together take turns.
 */
export async function installOutboxTriggers(
  knex: Knex,
  entities: readonly EntityDefinition<unknown>[],
  lists: readonly ListDefinition[],
): Promise<TriggerInstallReport> {
  const wanted = new Map<string, WantedTriggers>(
    watchedTables(entities, lists).map((watched) => {
      const statements = triggerStatements(watched, lists);
      const names = watched.entity !== undefined ? TRIGGERS : TRIGGERS.filter((t) => t !== 'freshgraph_version');
      return [watched.table, { statements, fingerprint: fingerprintOf(statements), names, noteOn: 'freshgraph_record_insert' }] as const;
    }),
  );
  const check = outboxCheckStatements(entities, lists);
  wanted.set(OUTBOX_TABLE, { statements: check, fingerprint: fingerprintOf(check), names: [OUTBOX_CHECK], noteOn: OUTBOX_CHECK });
  const compare = (found: ReadonlyMap<string, InstalledTriggers>): TriggerInstallReport => ({
    installed: [...wanted]
      .filter(([table, w]) => {
        const have = found.get(table);
        return have === undefined || have.fingerprint !== w.fingerprint || w.names.some((t) => !have.names.has(t));
      })
      .map(([table]) => table),
    removed: [...found.keys()].filter((table) => !wanted.has(table)),
  });
  const outdated = compare(await installedTriggers(knex));
  if (outdated.installed.length === 0 && outdated.removed.length === 0) return outdated;
  return knex.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['freshgraph outbox triggers']);
    // Another instance may have done it while this one waited for the lock.
    const todo = compare(await installedTriggers(trx));
    for (const table of todo.installed) {
      const w = wanted.get(table);
      if (w === undefined) continue;
      for (const statement of w.statements) await trx.raw(statement);
      await trx.raw(`comment on trigger ${w.noteOn} on "${table}" is '${PREFIX}${w.fingerprint}'`);
    }
    for (const table of todo.removed) {
      // Dropping the functions drops the triggers that call them.
      await trx.raw(`drop function if exists ${PREFIX}${table}_version() cascade`);
      await trx.raw(`drop function if exists ${PREFIX}${table}_record() cascade`);
    }
    return todo;
  });
}

interface WantedTriggers {
  readonly statements: readonly string[];
  readonly fingerprint: string;
  readonly names: readonly string[];
  /** The trigger whose comment holds the fingerprint of the set. */
  readonly noteOn: string;
}

const OUTBOX_TABLE = 'cache_outbox';
const OUTBOX_CHECK = 'freshgraph_outbox_check';

/**
 * The text of a key of each SQL type, as `<key>::text` writes it (what the API
 * and the triggers record, and what every cache key is built from): a key in
 * another spelling would be repaired under a key nobody reads. undefined: any
 * text is a key; null: not a key type, refused by name rather than guessed at.
 */
const KEY_TEXT: Readonly<Partial<Record<ColumnKind, string | undefined>>> = {
  uuid: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  smallint: '^(0|-{0,1}[1-9][0-9]*)$',
  integer: '^(0|-{0,1}[1-9][0-9]*)$',
  bigint: '^(0|-{0,1}[1-9][0-9]*)$',
  text: undefined,
};

function keyShape(kind: string, type: ColumnKind): string | undefined {
  const shape = type in KEY_TEXT ? KEY_TEXT[type] : null;
  if (shape === null) throw new Error(`outbox check: ${kind} has a key of type ${type}, which has no text form the check knows`);
  return shape;
}

/**
 * The check on the outbox, BEFORE INSERT OR UPDATE, per row: a row must name
 * an entity type or a list of the definitions (`entity`) and a key of it
 * (`entity_id`: the entity's key, the list owner's, or '' for a root list). It
 * runs for writers other than the API (whose rows are built from the same
 * definitions) and only for statements at the top level: the rows the
 * triggers above record come from the definitions too, and a migration that
 * changes a million rows should not pay a function call more for each.
 * Every row meets the table's own constraints as well (migration 007).
 */
export function outboxCheckStatements(entities: readonly EntityDefinition<unknown>[], lists: readonly ListDefinition[]): string[] {
  const kinds: [name: string, shape: string | undefined][] = [
    ...entities.map((e): [string, string | undefined] => [e.type, keyShape(e.type, e.key.kind)]),
    ...lists.map((l): [string, string | undefined] => [l.name, l.owner === undefined ? '^$' : keyShape(l.name, l.owner.key.kind)]),
  ];
  const known = kinds.map(([name]) => name).join(', ');
  const cases = kinds.map(([name, shape]) => `when ${literal(name)} then shape := ${shape === undefined ? 'null' : literal(shape)};`).join('\n    ');
  return [
    `create or replace function ${OUTBOX_CHECK}() returns trigger language plpgsql as $fg$
declare
  shape text;
begin
  case new.entity
    ${cases}
    else
      raise exception using errcode = 'check_violation',
        message = format('cache_outbox: entity %L is no cached type or list', new.entity),
        hint = ${literal(`entity names one of: ${known}`)};
  end case;
  if shape is not null and new.entity_id !~ shape then
    raise exception using errcode = 'check_violation',
      message = format('cache_outbox: entity_id %L is not a key of %s', new.entity_id, new.entity),
      hint = ${literal("entity_id is the key as <key column>::text writes it (a lowercase uuid), the owner's key for a list, or '' for a list over a whole table")};
  end if;
  return new;
end $fg$`,
    `create or replace trigger ${OUTBOX_CHECK} before insert or update on ${OUTBOX_TABLE} for each row
       when (${NOT_API} and pg_trigger_depth() < 1)
       execute function ${OUTBOX_CHECK}()`,
  ];
}

const fingerprintOf = (statements: readonly string[]): string => createHash('sha256').update(statements.join(';\n')).digest('hex').slice(0, 16);

interface InstalledTriggers {
  readonly names: Set<string>;
  fingerprint: string | undefined;
}

/** Our triggers in the current schema, by table, with the fingerprint noted on each table's set. */
async function installedTriggers(db: Knex | Knex.Transaction): Promise<Map<string, InstalledTriggers>> {
  const result = await db.raw(
    `select c.relname as table_name, t.tgname as trigger_name, obj_description(t.oid, 'pg_trigger') as note
     from pg_trigger t
     join pg_class c on c.oid = t.tgrelid
     where not t.tgisinternal and t.tgname like 'freshgraph\\_%' and c.relnamespace = current_schema()::regnamespace`,
  );
  const byTable = new Map<string, InstalledTriggers>();
  for (const row of rowsOf(result)) {
    const table = String(row['table_name']);
    let found = byTable.get(table);
    if (found === undefined) byTable.set(table, (found = { names: new Set(), fingerprint: undefined }));
    found.names.add(String(row['trigger_name']));
    // The fingerprint is noted on one trigger of each table's set (a watched table's insert trigger).
    const note = row['note'];
    if (typeof note === 'string' && note.startsWith(PREFIX)) found.fingerprint = note.slice(PREFIX.length);
  }
  return byTable;
}
