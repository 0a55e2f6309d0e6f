import type { Knex } from 'knex';
import type { EntityDefinition, JoinTable } from '../entities/define.js';
import type { ListDefinition } from '../entities/lists.js';
import type { ChangeKind, ChangeOptions, ChangeScope, EntityChange, ListChange, LookupChange, StatementScope } from './change-scope.js';
import { columnList, columnOf, lockByIds, type Queryable } from './entity-sql.js';
import { affectedLists, beforeColumns, bumpListVersions, joinColumnsReferencing, literal, quote } from './list-sql.js';
import { prepared, textOf } from './prepared.js';
import { rowsOf } from './rows.js';
import { autocommitted, inTransaction } from './transaction.js';

export interface RecordingOptions {
  /** Record outbox rows and raise list versions; false only when nothing is cached (CACHE_MODE=off). */
  readonly record: boolean;
  /** Every list the definitions declare. */
  readonly lists: readonly ListDefinition[];
  /**
   * Rows an earlier attempt of the same write found changed under its UPDATE,
   * by definition; shared by the attempts, so a retry locks them before its
   * statement and cannot meet the same race again (see ConcurrentUpdate).
   */
  readonly contended?: Contended;
}

/** Rows found changed under an UPDATE, by definition. */
export type Contended = Map<EntityDefinition<unknown>, Set<string>>;

/** Where a scope's statements run: inside a transaction, or one statement on the pool, autocommitted. */
export type ScopeTarget = { readonly transaction: Knex.Transaction } | { readonly autocommit: Knex };

/**
 * Thrown when an UPDATE found its row changed by a transaction that committed
 * after the statement's snapshot (Postgres re-read it under READ COMMITTED):
 * the old values this statement saw are not the ones it replaced, so the lists
 * it affected are unknown. It carries the serialization-failure code, so the
 * transaction runs again from the start (db/transaction.ts), on a new snapshot.
 */
class ConcurrentUpdate extends Error {
  readonly code = '40001';
}

/**
 * One write attempt's ChangeScope: wraps each statement so that it also
 * records the change (outbox rows, list versions) and reports what the cache
 * must be told after the commit. Knows nothing of the cache: it remembers
 * changes (entities, lists, lookup values), not keys.
 *
 * On `autocommit` it is a StatementScope: its one change statement commits on
 * its own. An UPDATE there that may assign a column lookups or lists depend on
 * gets a transaction of its own (BEGIN, the statement, COMMIT), because the
 * concurrent-update check below must be able to roll it back.
 */
export class RecordingScope implements ChangeScope, StatementScope {
  /** The latest state of every changed row, by `<type>\0<id>`. */
  readonly changes = new Map<string, EntityChange>();
  /** The latest version of every changed list, by `<list>\0<owner>`. */
  readonly lists = new Map<string, ListChange>();
  readonly outboxIds: string[] = [];
  /** Lookup values whose hints went stale, by `<type>\0<field>\0<value>`. */
  readonly staleLookups = new Map<string, LookupChange>();
  readonly db: Queryable;
  private changed = false;

  constructor(
    private readonly target: ScopeTarget,
    private readonly options: RecordingOptions,
  ) {
    this.db = 'transaction' in target ? target.transaction : target.autocommit;
  }

  get trx(): Knex.Transaction {
    if (!('transaction' in this.target)) throw new Error('a one-statement write has no transaction: use Writes.commit for locks and several statements');
    return this.target.transaction;
  }

  lock<Row>(entity: EntityDefinition<Row>, ids: readonly string[]): Promise<Row[]> {
    return lockByIds(this.trx, entity, ids);
  }

  async change<Row>(entity: EntityDefinition<Row>, kind: ChangeKind, statement: Knex.Raw, options: ChangeOptions = {}): Promise<Row[]> {
    const raws = await this.run(entity as EntityDefinition<unknown>, kind, statement, options);
    const [first] = raws;
    if (first !== undefined) this.noteRecorded(first);
    const rows: Row[] = [];
    for (const raw of raws) {
      const row = entity.decode(raw);
      const r = row as Record<string, unknown>;
      const id = String(r[entity.key.field]);
      const version = Number(r[entity.version.field]);
      const before = kind === 'update' && this.options.record ? ((raw['fg_before'] ?? undefined) as Record<string, unknown> | undefined) : undefined;
      this.changes.set(`${entity.type}\0${id}`, { type: entity.type, id, version: kind === 'delete' ? version + 1 : version, data: kind === 'delete' ? null : row });
      this.noteLookups(entity as EntityDefinition<unknown>, kind, r, before);
      rows.push(row);
    }
    return rows;
  }

  /** Runs the statement where this scope runs them, wrapped in the recording statement unless nothing is recorded. */
  private async run(entity: EntityDefinition<unknown>, kind: ChangeKind, statement: Knex.Raw, options: ChangeOptions): Promise<Record<string, unknown>[]> {
    const { record, lists } = this.options;
    const execute = async (db: Queryable) => {
      if (!record) return rowsOf(await statement);
      const outer = changeStatementSql(entity, kind, lists);
      return rowsOf(await prepared(db.raw(outer, [statement]), `${outer}\0${textOf(statement)}`));
    };
    // Checked and retried: rows an earlier attempt found changed under it are locked first, so that the
    // statement's snapshot and its UPDATE see the same row and the retry cannot meet the same race.
    const checked = async (trx: Knex.Transaction, contended: Contended) => {
      const ids = contended.get(entity);
      if (ids !== undefined) await lockByIds(trx, entity, [...ids]);
      const raws = await execute(trx);
      checkNoConcurrentUpdate(entity, raws, contended);
      return raws;
    };
    if ('transaction' in this.target) {
      if (kind !== 'update' || !record) return execute(this.target.transaction);
      return checked(this.target.transaction, this.options.contended ?? new Map());
    }
    if (this.changed) throw new Error('a one-statement write ran a second change statement: use Writes.commit for several');
    this.changed = true;
    const knex = this.target.autocommit;
    if (kind !== 'update' || !record || assignsNothingBefore(entity, options.assigns, lists)) return autocommitted(() => execute(knex));
    const contended: Contended = new Map();
    return inTransaction(knex, (trx) => checked(trx, contended));
  }

  async changeLinks(join: JoinTable, statements: readonly Knex.Raw[]): Promise<Record<string, unknown>[]> {
    if (statements.length === 0) return [];
    const outer = linkStatementSql(join, statements.length, this.options);
    const result = await prepared(this.trx.raw(outer, [...statements]), [outer, ...statements.map(textOf)].join('\0'));
    const [row] = rowsOf(result);
    if (row === undefined) return [];
    this.noteRecorded(row);
    const changed = row['fg_rows'];
    return Array.isArray(changed) ? (changed as Record<string, unknown>[]) : [];
  }

  /** The outbox rows and list versions a wrapped statement reports (the same on each of its rows). */
  private noteRecorded(row: Readonly<Record<string, unknown>>): void {
    const ids = row['fg_outbox_ids'];
    if (Array.isArray(ids)) for (const id of ids) this.outboxIds.push(String(id));
    const lists = row['fg_lists'];
    if (!Array.isArray(lists)) return;
    for (const [list, owner, version] of lists as [string, string, number | string][]) {
      const key = `${list}\0${owner}`;
      const v = Number(version);
      if ((this.lists.get(key)?.version ?? 0) < v) this.lists.set(key, { list, owner, version: v });
    }
  }

  private noteLookups(
    entity: EntityDefinition<unknown>,
    kind: ChangeKind,
    row: Readonly<Record<string, unknown>>,
    before: Readonly<Record<string, unknown>> | undefined,
  ): void {
    for (const lookup of entity.lookups.values()) {
      const { field, column } = lookup.column;
      const value = row[field];
      // Old values come back by column name (the statement's own view of the row before it).
      const previous = before?.[column];
      if (kind === 'update' && before !== undefined && previous === value) continue;
      for (const v of [value, previous]) {
        if (typeof v === 'string') this.staleLookups.set(`${entity.type}\0${field}\0${v}`, { type: entity.type, field, value: v });
      }
    }
  }
}

/**
 * Under READ COMMITTED, an UPDATE that met a row changed by a transaction that
 * committed after its snapshot applies to the newer row, while its `fg_before`
 * shows the older one: the lists and hints it computed from it may be wrong.
 * Thrown inside the transaction, which then runs again on a new snapshot.
 */
function checkNoConcurrentUpdate(entity: EntityDefinition<unknown>, raws: readonly Record<string, unknown>[], contended: Contended): void {
  for (const raw of raws) {
    if (Number(raw['fg_before_version']) + 1 !== Number(raw[entity.version.column])) {
      const id = String(raw[entity.key.column]);
      let ids = contended.get(entity);
      if (ids === undefined) contended.set(entity, (ids = new Set()));
      ids.add(id);
      throw new ConcurrentUpdate(`${entity.type} ${id} changed under this statement; running it again with the row locked first`);
    }
  }
}

const beforeByEntity = new WeakMap<EntityDefinition<unknown>, ReadonlySet<string>>();

/**
 * Whether an UPDATE assigning `fields` leaves every column that lookups and
 * lists read as it was: then an older view of the row before it can only name
 * extra lists and hints (the concurrent writer's own, raised and dropped by
 * that writer too), never miss one this statement changed.
 */
function assignsNothingBefore(entity: EntityDefinition<unknown>, fields: readonly string[] | undefined, lists: readonly ListDefinition[]): boolean {
  if (fields === undefined) return false;
  let before = beforeByEntity.get(entity);
  if (before === undefined) beforeByEntity.set(entity, (before = new Set(beforeColumns(entity, lists))));
  const read = before;
  return fields.every((f) => !read.has(columnOf(entity, f).column) && columnOf(entity, f) !== entity.key);
}

const statements = new WeakMap<EntityDefinition<unknown>, Map<ChangeKind, string>>();

/**
 * The statement around an entity change (bound to it as the one `?`): the
 * change, its old rows (an update), the join rows it removes (a delete), the
 * lists it affects and their new versions, and one outbox row per changed row
 * and per list; it returns the changed rows with what was recorded.
 */
function changeStatementSql(entity: EntityDefinition<unknown>, kind: ChangeKind, lists: readonly ListDefinition[]): string {
  let byKind = statements.get(entity);
  if (byKind === undefined) statements.set(entity, (byKind = new Map()));
  const known = byKind.get(kind);
  if (known !== undefined) return known;
  const key = quote(entity.key.column);
  const ctes = ['changed as (?)'];
  let rows: Parameters<typeof affectedLists>[1];
  const old = beforeColumns(entity, lists);
  if (kind === 'update') {
    // Inside one statement, the table still shows the rows as they were before it.
    ctes.push(
      `fg_before as (select ${[key, `${quote(entity.version.column)} as fg_version`, ...old.map(quote)].join(', ')} from ${quote(entity.table)} where ${key} in (select ${key} from changed))`,
    );
    rows = { updated: { before: 'fg_before', after: 'changed' } };
  } else {
    rows = kind === 'insert' ? { inserted: 'changed' } : { deleted: 'changed' };
  }
  const unlinked: string[] = [];
  if (kind === 'delete') {
    for (const [table, column] of joinColumnsReferencing(entity, lists)) {
      const name = `fg_unlinked_${table}`;
      ctes.push(`${name} as (delete from ${quote(table)} where ${quote(column)} in (select ${key} from changed) returning *)`);
      unlinked.push(...affectedLists(table, { deleted: name }, lists));
    }
  }
  const affected = [...affectedLists(entity.table, rows, lists), ...unlinked];
  const recordLists = affected.length > 0;
  if (recordLists) {
    ctes.push(`fg_affected as (${affected.join(' union all ')})`);
    ctes.push(`fg_bumped as (${bumpListVersions('fg_affected')})`);
  }
  const version = kind === 'delete' ? `${quote(entity.version.column)} + 1` : quote(entity.version.column);
  ctes.push(
    `fg_recorded as (insert into cache_outbox (entity, entity_id, version)
       select ${literal(entity.type)}, ${key}::text, ${version} from changed
       ${recordLists ? 'union all select list, owner, version from fg_bumped' : ''}
       returning id)`,
  );
  const extras = [`(select coalesce(array_agg(id::text), '{}') from fg_recorded) as fg_outbox_ids`];
  if (recordLists) extras.push(`(select coalesce(json_agg(json_build_array(list, owner, version)), '[]') from fg_bumped) as fg_lists`);
  let from = 'changed c';
  if (kind === 'update') {
    extras.push('b.fg_version as fg_before_version');
    extras.push(`json_build_object(${old.flatMap((c) => [literal(c), `b.${quote(c)}`]).join(', ') || `'none', null`}) as fg_before`);
    from = `changed c left join fg_before b on b.${key} = c.${key}`;
  }
  const sql = `with ${ctes.join(',\n')}\nselect ${columnList(entity, 'c')}, ${extras.join(', ')} from ${from}`;
  byKind.set(kind, sql);
  return sql;
}

/** The statement around a join table's changes (each bound to one `?`), with the same bookkeeping; it returns one row. */
function linkStatementSql(join: JoinTable, count: number, options: RecordingOptions): string {
  const parts = Array.from({ length: count }, (_, i) => `fg_c${i} as (?)`);
  const union = `changed as (${Array.from({ length: count }, (_, i) => `select * from fg_c${i}`).join(' union all ')})`;
  if (!options.record) return `with ${[...parts, union].join(', ')} select (select coalesce(json_agg(c), '[]') from changed c) as fg_rows`;
  const affected = affectedLists(join.table, { inserted: 'changed' }, options.lists);
  if (affected.length === 0) throw new Error(`join table ${join.table} is read by no list`);
  return `with ${[
    ...parts,
    union,
    `fg_affected as (${affected.join(' union all ')})`,
    `fg_bumped as (${bumpListVersions('fg_affected')})`,
    `fg_recorded as (insert into cache_outbox (entity, entity_id, version) select list, owner, version from fg_bumped returning id)`,
  ].join(',\n')}
  select (select coalesce(array_agg(id::text), '{}') from fg_recorded) as fg_outbox_ids,
         (select coalesce(json_agg(json_build_array(list, owner, version)), '[]') from fg_bumped) as fg_lists,
         (select coalesce(json_agg(c), '[]') from changed c) as fg_rows`;
}
