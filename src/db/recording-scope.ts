import type { Knex } from 'knex';
import type { EntityDefinition, JoinTable } from '../entities/define.js';
import type { ListDefinition } from '../entities/lists.js';
import type { ChangeKind, ChangeScope, EntityChange, ListChange, LookupChange } from './change-scope.js';
import { columnList, lockByIds } from './entity-sql.js';
import { affectedLists, beforeColumns, bumpListVersions, joinColumnsReferencing, literal, quote } from './list-sql.js';
import { rowsOf } from './rows.js';

export interface RecordingOptions {
  /** Record outbox rows and raise list versions; false only when nothing is cached (CACHE_MODE=off). */
  readonly record: boolean;
  /** Every list the definitions declare. */
  readonly lists: readonly ListDefinition[];
  /**
   * Rows an earlier attempt of the same transaction found changed under its
   * UPDATE, by definition; shared by the attempts, so a retry locks them before
   * its statement and cannot meet the same race again (see ConcurrentUpdate).
   */
  readonly contended?: Map<EntityDefinition<unknown>, Set<string>>;
}

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
 * One transaction attempt's ChangeScope: wraps each statement so that it also
 * records the change (outbox rows, list versions) and reports what the cache
 * must be told after the commit. Knows nothing of the cache: it remembers
 * changes (entities, lists, lookup values), not keys.
 */
export class RecordingScope implements ChangeScope {
  /** The latest state of every changed row, by `<type>\0<id>`. */
  readonly changes = new Map<string, EntityChange>();
  /** The latest version of every changed list, by `<list>\0<owner>`. */
  readonly lists = new Map<string, ListChange>();
  readonly outboxIds: string[] = [];
  /** Lookup values whose hints went stale, by `<type>\0<field>\0<value>`. */
  readonly staleLookups = new Map<string, LookupChange>();

  constructor(
    readonly trx: Knex.Transaction,
    private readonly options: RecordingOptions,
  ) {}

  lock<Row>(entity: EntityDefinition<Row>, ids: readonly string[]): Promise<Row[]> {
    return lockByIds(this.trx, entity, ids);
  }

  async change<Row>(entity: EntityDefinition<Row>, kind: ChangeKind, statement: Knex.Raw): Promise<Row[]> {
    const contended = this.options.contended?.get(entity as EntityDefinition<unknown>);
    // Locked first, the rows cannot change between this statement's snapshot and its UPDATE.
    if (kind === 'update' && contended !== undefined && this.options.record) await lockByIds(this.trx, entity, [...contended]);
    const raws = this.options.record
      ? rowsOf(await this.trx.raw(changeStatementSql(entity as EntityDefinition<unknown>, kind, this.options.lists), [statement]))
      : rowsOf(await statement);
    const [first] = raws;
    if (first !== undefined) this.noteRecorded(first);
    const rows: Row[] = [];
    for (const raw of raws) {
      const row = entity.decode(raw);
      const r = row as Record<string, unknown>;
      const id = String(r[entity.key.field]);
      const version = Number(r[entity.version.field]);
      let before: Record<string, unknown> | undefined;
      if (kind === 'update' && this.options.record) {
        if (Number(raw['fg_before_version']) + 1 !== version) {
          this.noteContended(entity as EntityDefinition<unknown>, id);
          throw new ConcurrentUpdate(`${entity.type} ${id} changed under this statement; running the transaction again`);
        }
        before = (raw['fg_before'] ?? undefined) as Record<string, unknown> | undefined;
      }
      this.changes.set(`${entity.type}\0${id}`, { type: entity.type, id, version: kind === 'delete' ? version + 1 : version, data: kind === 'delete' ? null : row });
      this.noteLookups(entity as EntityDefinition<unknown>, kind, r, before);
      rows.push(row);
    }
    return rows;
  }

  private noteContended(entity: EntityDefinition<unknown>, id: string): void {
    const contended = this.options.contended;
    if (contended === undefined) return;
    let ids = contended.get(entity);
    if (ids === undefined) contended.set(entity, (ids = new Set()));
    ids.add(id);
  }

  async changeLinks(join: JoinTable, statements: readonly Knex.Raw[]): Promise<Record<string, unknown>[]> {
    if (statements.length === 0) return [];
    const result = await this.trx.raw(linkStatementSql(join, statements.length, this.options), [...statements]);
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
