import type { Knex } from 'knex';
import type { EntityDefinition } from '../entities/define.js';
import { ROOT_OWNER, type ListDefinition, type ListOrderColumn } from '../entities/lists.js';
import type { Queryable } from './entity-sql.js';
import { prepared } from './prepared.js';
import { rowsOf } from './rows.js';

/**
 * The SQL of lists, built from their definitions: a batch of lists' windows
 * (first members, total, version) in one statement, a batch of keyset pages in
 * one statement, and which lists a change to a table affects (for the API's
 * change statements and for the triggers that record other programs' changes).
 */

export const quote = (name: string): string => `"${name}"`;
export const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** A list's cached value as loaded: its committed version and its window. */
export interface ListRecord {
  readonly version: number;
  readonly data: { readonly ids: readonly string[]; readonly total: number };
}

/** `m` is the member table's alias in every statement below. */
const memberOrder = (list: ListDefinition, alias = 'm'): string =>
  list.order.map((o) => `${alias}.${quote(o.column.column)} ${o.direction}`).join(', ');

const keyText = (entity: EntityDefinition<unknown>, alias: string): string => `${alias}.${quote(entity.key.column)}::text`;

/** FROM and WHERE of a list's members as `alias`, for owner `owner` (an SQL expression of type text). */
function membersOf(list: ListDefinition, owner: string, alias = 'm'): string {
  const { member, source } = list;
  const table = quote(member.table);
  switch (source.kind) {
    case 'foreign-key':
      return `from ${table} ${alias} where ${alias}.${quote(source.column.column)} = (${owner})::${source.column.sqlType}`;
    case 'join': {
      const j = `${alias}_j`;
      return `from ${quote(source.table)} ${j} join ${table} ${alias} on ${alias}.${quote(member.key.column)} = ${j}.${quote(source.memberColumn)}
              where ${j}.${quote(source.ownerColumn)} = (${owner})::${(list.owner as EntityDefinition<unknown>).key.sqlType}`;
    }
    case 'table':
      return `from ${table} ${alias} where true`;
  }
}

/** How many members a list has: from the join table alone when there is one. */
function countOf(list: ListDefinition, owner: string): string {
  const { source } = list;
  if (source.kind === 'join') {
    return `select count(*) from ${quote(source.table)} j where j.${quote(source.ownerColumn)} = (${owner})::${(list.owner as EntityDefinition<unknown>).key.sqlType}`;
  }
  return `select count(*) ${membersOf(list, owner)}`;
}

/** One list's windows for many owners: a SELECT of (list, owner, version, ids, total) and its bindings. */
function windowSelect(list: ListDefinition, owners: readonly string[], size: number): { sql: string; bindings: Knex.Value[] } {
  return {
    sql: `select ${literal(list.name)} as list, o.owner, coalesce(v.version, 0) as version,
             array(select ${keyText(list.member, 'm')} ${membersOf(list, 'o.owner')} order by ${memberOrder(list)} limit ?) as ids,
             (${countOf(list, 'o.owner')}) as total
           from unnest(?::text[]) as o(owner)
           left join cache_list_versions v on v.list = ${literal(list.name)} and v.owner = o.owner`,
    bindings: [size, [...owners]],
  };
}

/**
 * The windows of many lists, each for many owners, in one statement: the
 * version and the members are read in one snapshot, so a window is exactly
 * the list at its version. Owners of a root list are ROOT_OWNER.
 */
export async function loadWindows(
  db: Queryable,
  requests: readonly { readonly list: ListDefinition; readonly owners: readonly string[] }[],
  size: number,
): Promise<Map<string, Map<string, ListRecord>>> {
  const parts = requests.filter((r) => r.owners.length > 0).map((r) => windowSelect(r.list, r.owners, size));
  const found = new Map<string, Map<string, ListRecord>>();
  if (parts.length === 0) return found;
  const sql = parts.map((p) => `(${p.sql})`).join(' union all ');
  const result = await prepared(db.raw(sql, parts.flatMap((p) => p.bindings)), sql);
  for (const row of rowsOf(result)) {
    const name = String(row['list']);
    const ids = row['ids'];
    const byOwner = found.get(name) ?? found.set(name, new Map()).get(name);
    byOwner?.set(String(row['owner']), {
      version: Number(row['version']),
      data: { ids: Array.isArray(ids) ? ids.map(String) : parsePgArray(ids), total: Number(row['total']) },
    });
  }
  return found;
}

/** One list's windows, by owner. */
export async function loadListWindows(db: Queryable, list: ListDefinition, owners: readonly string[], size: number): Promise<Map<string, ListRecord>> {
  return (await loadWindows(db, [{ list, owners }], size)).get(list.name) ?? new Map();
}

/** A page wanted from the database: its owner, where it starts, and how many members. */
export interface PageRequest {
  readonly owner: string;
  /** The member the page starts after: its key, and its order values when the cursor was made (used when it has left the list). */
  readonly after?: { readonly id: string; readonly values: readonly unknown[] };
  readonly limit: number;
}

/**
 * Keyset pages of one list, many in one statement: for each request, the keys
 * of up to `limit` members after its cursor in list order. A cursor whose
 * member is still in the list starts right after that member's current
 * position; one whose member has left it starts where the member's values, as
 * the cursor recorded them, would be.
 */
export async function loadPages(db: Queryable, list: ListDefinition, requests: readonly PageRequest[]): Promise<string[][]> {
  if (requests.length === 0) return [];
  const { member } = list;
  const key = quote(member.key.column);
  const terms = list.order;
  // The cursor's member as it is now, if it is still a member of this list.
  const cursorRow = `select ${terms.map((t, i) => `c.${quote(t.column.column)} as k${i}`).join(', ')}
    ${membersOf(list, 'r.owner', 'c')} and c.${key} = (r.after_id)::${member.key.sqlType}`;
  const bound = terms.map((t, i) => `coalesce(cur.k${i}, (r.after_values->>${i})::${t.column.sqlType})`);
  const after = `r.after_id is null or ${keysetCondition(terms, bound)}`;
  const sql = `select r.n, array(
        select ${keyText(member, 'm')} ${membersOf(list, 'r.owner')} and (${after})
        order by ${memberOrder(list)} limit r.lim) as ids
      from unnest(?::int[], ?::text[], ?::text[], ?::jsonb[], ?::int[]) as r(n, owner, after_id, after_values, lim)
      left join lateral (${cursorRow}) cur on true
      order by r.n`;
  const bindings: unknown[] = [
    requests.map((_, i) => i),
    requests.map((r) => r.owner),
    requests.map((r) => r.after?.id ?? null),
    // Order values go back into SQL as the columns hold them (an enum's label, not its GraphQL name).
    requests.map((r) => (r.after ? JSON.stringify(r.after.values.map((v, i) => (v === null ? null : terms[i]?.column.encode(v)))) : null)),
    requests.map((r) => r.limit),
  ];
  // Arrays holding NULLs are bound as arrays, which knex's Value type does not spell out.
  const result = await db.raw(sql, bindings as Knex.Value[]);
  return rowsOf(result).map((row) => {
    const ids = row['ids'];
    return Array.isArray(ids) ? ids.map(String) : parsePgArray(ids);
  });
}

/**
 * `m` comes after the position `bound` (SQL expressions, one per term) in list
 * order. A row comparison when every term goes one way (an index serves it),
 * else the expanded form.
 */
function keysetCondition(terms: readonly ListOrderColumn[], bound: readonly string[]): string {
  const col = (t: ListOrderColumn) => `m.${quote(t.column.column)}`;
  const direction = terms[0]?.direction ?? 'asc';
  if (terms.every((t) => t.direction === direction)) {
    return `(${terms.map(col).join(', ')}) ${direction === 'asc' ? '>' : '<'} (${bound.join(', ')})`;
  }
  return terms
    .map((t, i) => {
      const equal = terms.slice(0, i).map((u, j) => `${col(u)} = ${bound[j]}`);
      return `(${[...equal, `${col(t)} ${t.direction === 'asc' ? '>' : '<'} ${bound[i]}`].join(' and ')})`;
    })
    .join(' or ');
}

/** PGlite may hand a text[] back as its literal ('{a,b}'). */
function parsePgArray(value: unknown): string[] {
  if (typeof value !== 'string' || value.length < 2) return [];
  const inner = value.slice(1, -1);
  return inner.length === 0 ? [] : inner.split(',').map((v) => v.replace(/^"(.*)"$/, '$1'));
}

/** The relations (SQL names) holding a statement's rows: a change statement's CTEs, or a trigger's transition tables. */
export interface ChangedRows {
  readonly inserted?: string;
  readonly deleted?: string;
  /** An update: the rows before and after, joined on the key. */
  readonly updated?: { readonly before: string; readonly after: string };
}

/**
 * SELECTs of (list, owner) for every list a change to `table` affects: an
 * insert or delete of a member, a member whose list column moved it to another
 * owner (both owners), a change to a column a list is ordered by, a join row
 * added or removed (both sides). `lists` are every list the definitions declare.
 */
export function affectedLists(table: string, rows: ChangedRows, lists: readonly ListDefinition[]): string[] {
  const selects: string[] = [];
  const name = (list: ListDefinition) => literal(list.name);
  for (const list of lists) {
    const { source, member } = list;
    if (source.kind === 'join' && source.table === table) {
      // A join row: its owner's list changed, whichever side is asking.
      const owner = (r: string) => `${r}.${quote(source.ownerColumn)}::text`;
      for (const r of [rows.inserted, rows.deleted, rows.updated?.before, rows.updated?.after]) {
        if (r !== undefined) selects.push(`select ${name(list)} as list, ${owner('r')} as owner from ${r} r`);
      }
      continue;
    }
    if (member.table !== table) continue;
    const key = quote(member.key.column);
    const ordered = list.order.filter((o) => o.column !== member.key).map((o) => quote(o.column.column));
    const moved = (o: string, n: string) =>
      ordered.length === 0 ? 'false' : `(${ordered.map((c) => `${o}.${c}`).join(', ')}) is distinct from (${ordered.map((c) => `${n}.${c}`).join(', ')})`;
    const updated = rows.updated;
    const pairs = updated === undefined ? undefined : `${updated.before} o join ${updated.after} n on n.${key} = o.${key}`;
    if (source.kind === 'foreign-key') {
      const fk = quote(source.column.column);
      const ownerOf = (r: string) => `select ${name(list)} as list, r.${fk}::text as owner from ${r} r where r.${fk} is not null`;
      if (rows.inserted !== undefined) selects.push(ownerOf(rows.inserted));
      if (rows.deleted !== undefined) selects.push(ownerOf(rows.deleted));
      if (pairs !== undefined) {
        const changed = `(o.${fk} is distinct from n.${fk} or ${moved('o', 'n')})`;
        selects.push(`select ${name(list)} as list, o.${fk}::text as owner from ${pairs} where o.${fk} is not null and ${changed}`);
        selects.push(`select ${name(list)} as list, n.${fk}::text as owner from ${pairs} where n.${fk} is not null and ${changed}`);
      }
    } else if (source.kind === 'table') {
      const any = (r: string) => `select ${name(list)} as list, ${literal(ROOT_OWNER)} as owner where exists (select 1 from ${r})`;
      if (rows.inserted !== undefined) selects.push(any(rows.inserted));
      if (rows.deleted !== undefined) selects.push(any(rows.deleted));
      if (pairs !== undefined && ordered.length > 0) {
        selects.push(`select ${name(list)} as list, ${literal(ROOT_OWNER)} as owner where exists (select 1 from ${pairs} where ${moved('o', 'n')})`);
      }
    } else if (pairs !== undefined && ordered.length > 0) {
      // A member of join lists whose order moved: every list it is in (its join rows stay as they are).
      selects.push(
        `select ${name(list)} as list, j.${quote(source.ownerColumn)}::text as owner from ${pairs}
         join ${quote(source.table)} j on j.${quote(source.memberColumn)} = n.${key} where ${moved('o', 'n')}`,
      );
    }
  }
  return selects;
}

/**
 * Bumps the version of every affected list (creating it at 1), in (list,
 * owner) order so that writers bumping overlapping sets cannot deadlock, and
 * returns (list, owner, version). The row lock it takes is held to the commit:
 * a writer of the same list waits, so a window read later in this transaction
 * sees every lower version's change and none of a higher one's.
 */
export function bumpListVersions(affected: string): string {
  return `insert into cache_list_versions as v (list, owner, version)
    select list, owner, 1 from (select distinct list, owner from ${affected}) a order by list, owner
    on conflict (list, owner) do update set version = v.version + 1
    returning list, owner, version`;
}

/** The columns of `entity` a change's old row must show: lookups (their hints go stale) and what lists are ordered or owned by. */
export function beforeColumns(entity: EntityDefinition<unknown>, lists: readonly ListDefinition[]): string[] {
  const columns = new Set<string>([...entity.lookups.values()].map((l) => l.column.column));
  for (const list of lists) {
    if (list.member !== entity) continue;
    for (const o of list.order) columns.add(o.column.column);
    if (list.source.kind === 'foreign-key') columns.add(list.source.column.column);
  }
  columns.delete(entity.key.column);
  return [...columns];
}

/** Lists whose members live in `table` or whose join table it is: what a change to it can affect. */
export function listsTouching(table: string, lists: readonly ListDefinition[]): ListDefinition[] {
  return lists.filter((l) => l.member.table === table || (l.source.kind === 'join' && l.source.table === table));
}

/** Join tables with a column referencing `entity`'s rows: deleting a row must delete its join rows first. */
export function joinColumnsReferencing(entity: EntityDefinition<unknown>, lists: readonly ListDefinition[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const list of lists) {
    const { source } = list;
    if (source.kind !== 'join') continue;
    if (list.member === entity) found.set(source.table, source.memberColumn);
    if (list.owner === entity) found.set(source.table, source.ownerColumn);
  }
  return found;
}
