import type { Knex } from 'knex';
import type { EntityDefinition, FieldColumn } from '../entities/define.js';
import type { StatementScope } from './change-scope.js';
import { prepared } from './prepared.js';
import { rowsOf } from './rows.js';

/**
 * The SQL every cached type shares, built from its definition: reads by key and
 * by lookup value, row locks, inserts, delta updates, and the RETURNING list a
 * change must end with. Statements behind one type's business rules live in a
 * module of their own next to this one (products.ts, orders.ts).
 */

/** A knex connection or a transaction: reads run on either. */
export type Queryable = Knex | Knex.Transaction;

const quote = (name: string): string => `"${name}"`;
const qualified = (col: FieldColumn, alias: string | undefined): string =>
  alias === undefined ? quote(col.column) : `${alias}.${quote(col.column)}`;

/** Every column of the entity, as a select or RETURNING list; `alias` qualifies them (`p."stock"`). */
export function columnList(entity: EntityDefinition<unknown>, alias?: string): string {
  return entity.fields.map((f) => qualified(f, alias)).join(', ');
}

/** The column of a field; throws when the entity has no such field (a programming error). */
export function columnOf(entity: EntityDefinition<unknown>, field: string): FieldColumn {
  const col = entity.fields.find((f) => f.field === field);
  if (col === undefined) throw new Error(`${entity.type} has no field ${field}`);
  return col;
}

/** The rows whose ids are given, in no particular order; ids with no row are absent. One statement. */
export async function findByIds<Row>(db: Queryable, entity: EntityDefinition<Row>, ids: readonly string[]): Promise<Row[]> {
  if (ids.length === 0) return [];
  const key = entity.key;
  const sql = `select ${columnList(entity)} from ${quote(entity.table)} where ${quote(key.column)} = any(?::${key.sqlType}[])`;
  const result = await prepared(db.raw(sql, [[...ids]]), sql);
  return rowsOf(result).map((r) => entity.decode(r));
}

/** The rows whose `field` holds one of `values`. One statement. */
export async function findByValues<Row>(
  db: Queryable,
  entity: EntityDefinition<Row>,
  field: string,
  values: readonly string[],
): Promise<Row[]> {
  if (values.length === 0) return [];
  const col = columnOf(entity, field);
  const result = await db.raw(
    `select ${columnList(entity)} from ${quote(entity.table)} where ${quote(col.column)} = any(?::${col.sqlType}[])`,
    [[...values]],
  );
  return rowsOf(result).map((r) => entity.decode(r));
}

/** Locks the rows in id order, so that transactions locking overlapping sets cannot deadlock. */
export async function lockByIds<Row>(trx: Knex.Transaction, entity: EntityDefinition<Row>, ids: readonly string[]): Promise<Row[]> {
  if (ids.length === 0) return [];
  const key = quote(entity.key.column);
  const sql = `select ${columnList(entity)} from ${quote(entity.table)} where ${key} = any(?::${entity.key.sqlType}[]) order by ${key} for update`;
  const result = await prepared(trx.raw(sql, [[...ids]]), sql);
  return rowsOf(result).map((r) => entity.decode(r));
}

/**
 * An INSERT of one row at version 1, RETURNING every column. A field left
 * out of `values` takes the column's default (`now()`, a sequence, NULL); a
 * NOT NULL column without one is refused by Postgres.
 */
export function insertStatement(db: Queryable, entity: EntityDefinition<unknown>, values: Readonly<Record<string, unknown>>): Knex.Raw {
  const columns: string[] = [];
  const placeholders: string[] = [];
  const bindings: Knex.Value[] = [];
  for (const col of entity.fields) {
    columns.push(quote(col.column));
    if (col === entity.version) {
      placeholders.push('1');
      continue;
    }
    const value = values[col.field];
    if (value === undefined) {
      placeholders.push('default');
      continue;
    }
    placeholders.push(`?::${col.sqlType}`);
    bindings.push(col.encode(value) as Knex.Value);
  }
  return db.raw(
    `insert into ${quote(entity.table)} (${columns.join(', ')}) values (${placeholders.join(', ')}) returning ${columnList(entity)}`,
    bindings,
  );
}

/** Inserts one row at version 1 through the scope (so it is recorded for the cache) and returns it. */
export async function insertRow<Row>(scope: StatementScope, entity: EntityDefinition<Row>, values: Readonly<Record<string, unknown>>): Promise<Row> {
  const [row] = await scope.change(entity, 'insert', insertStatement(scope.db, entity, values));
  if (row === undefined) throw new Error(`insert into ${entity.table} returned no row`);
  return row;
}

export interface UpdateOptions {
  /** Timestamp fields set to now() with the change (`updatedAt`). @default none */
  readonly touch?: readonly string[];
}

/** An UPDATE of one row's `changes` (fields -> values), version + 1, RETURNING every column; no row when the key matches none. */
export function updateStatement(
  db: Queryable,
  entity: EntityDefinition<unknown>,
  key: string,
  changes: Readonly<Record<string, unknown>>,
  options: UpdateOptions = {},
): Knex.Raw {
  const sets: string[] = [];
  const bindings: Knex.Value[] = [];
  for (const [field, value] of Object.entries(changes)) {
    const col = columnOf(entity, field);
    sets.push(`${quote(col.column)} = ?::${col.sqlType}`);
    bindings.push(col.encode(value) as Knex.Value);
  }
  const version = quote(entity.version.column);
  sets.push(`${version} = ${version} + 1`);
  for (const field of options.touch ?? []) sets.push(`${quote(columnOf(entity, field).column)} = now()`);
  return db.raw(
    `update ${quote(entity.table)} set ${sets.join(', ')} where ${quote(entity.key.column)} = ?::${entity.key.sqlType} returning ${columnList(entity)}`,
    [...bindings, key],
  );
}

/** A DELETE of one row, RETURNING it as it was; no row when the key matches none. */
export function deleteStatement(db: Queryable, entity: EntityDefinition<unknown>, key: string): Knex.Raw {
  return db.raw(
    `delete from ${quote(entity.table)} where ${quote(entity.key.column)} = ?::${entity.key.sqlType} returning ${columnList(entity)}`,
    [key],
  );
}

/** The rows whose `field` (a column holding another entity's key) holds `key`, locked. */
export async function lockReferencing<Row>(trx: Knex.Transaction, entity: EntityDefinition<Row>, field: string, key: string): Promise<Row[]> {
  const col = columnOf(entity, field);
  const pk = quote(entity.key.column);
  const result = await trx.raw(
    `select ${columnList(entity)} from ${quote(entity.table)} where ${quote(col.column)} = ?::${col.sqlType} order by ${pk} for update`,
    [key],
  );
  return rowsOf(result).map((r) => entity.decode(r));
}

/** A row with its committed version, as the read path and the repair worker want it. */
export interface VersionedRow<Row> {
  readonly version: number;
  readonly data: Row;
}

/** The rows of `ids` by id, each with its version. One statement. */
export async function versionedByIds<Row>(db: Queryable, entity: EntityDefinition<Row>, ids: readonly string[]): Promise<Map<string, VersionedRow<Row>>> {
  const rows = await findByIds(db, entity, ids);
  const byId = new Map<string, VersionedRow<Row>>();
  for (const row of rows) {
    const r = row as Readonly<Record<string, unknown>>;
    byId.set(String(r[entity.key.field]), { version: Number(r[entity.version.field]), data: row });
  }
  return byId;
}


export interface AddDeltasOptions {
  /** A timestamp field set to now() on every changed row (`updatedAt`). @default none */
  readonly touch?: string;
}

/**
 * Adds each delta to one integer field of its row (lock the rows first), bumps
 * `version` by 1, all in one statement through the scope, and returns the rows.
 */
export function addDeltas<Row>(
  scope: StatementScope,
  entity: EntityDefinition<Row>,
  field: string,
  deltas: readonly { readonly id: string; readonly delta: number }[],
  options: AddDeltasOptions = {},
): Promise<Row[]> {
  const col = quote(columnOf(entity, field).column);
  const touch = options.touch === undefined ? '' : `, ${quote(columnOf(entity, options.touch).column)} = now()`;
  const key = quote(entity.key.column);
  const version = quote(entity.version.column);
  return scope.change(
    entity,
    'update',
    scope.db.raw(
      `update ${quote(entity.table)} t set ${col} = t.${col} + c.delta, ${version} = t.${version} + 1${touch}
       from unnest(?::${entity.key.sqlType}[], ?::${columnOf(entity, field).sqlType}[]) as c(id, delta)
       where t.${key} = c.id
       returning ${columnList(entity, 't')}`,
      [deltas.map((d) => d.id), deltas.map((d) => d.delta)],
    ),
    { assigns: options.touch === undefined ? [field] : [field, options.touch] },
  );
}

export interface AddDeltaOptions {
  /** The change applies only if the field ends at least this high (stock that must not go below 0). @default none */
  readonly atLeast?: number;
  /** Timestamp fields set to now() with the change (`updatedAt`). @default none */
  readonly touch?: readonly string[];
}

const addDeltaTexts = new WeakMap<EntityDefinition<unknown>, Map<string, string>>();

/**
 * Adds `delta` to one integer field of one row unless that would take it
 * below `atLeast`, bumps `version` by 1, through the scope; no row when the
 * key matches none or the guard refused. The statement's text is built once
 * per entity, field and options, from the definition.
 */
export async function addDelta<Row>(
  scope: StatementScope,
  entity: EntityDefinition<Row>,
  field: string,
  key: string,
  delta: number,
  options: AddDeltaOptions = {},
): Promise<Row | undefined> {
  const generic = entity as EntityDefinition<unknown>;
  const touch = options.touch ?? [];
  const guarded = options.atLeast !== undefined;
  const id = `${field}\0${guarded}\0${touch.join(',')}`;
  let texts = addDeltaTexts.get(generic);
  if (texts === undefined) addDeltaTexts.set(generic, (texts = new Map()));
  let sql = texts.get(id);
  if (sql === undefined) {
    const col = columnOf(generic, field);
    const c = quote(col.column);
    const version = quote(entity.version.column);
    const sets = [`${c} = ${c} + ?::${col.sqlType}`, `${version} = ${version} + 1`, ...touch.map((t) => `${quote(columnOf(generic, t).column)} = now()`)];
    const guard = guarded ? ` and ${c} + ?::${col.sqlType} >= ?::${col.sqlType}` : '';
    sql = `update ${quote(entity.table)} set ${sets.join(', ')} where ${quote(entity.key.column)} = ?::${entity.key.sqlType}${guard} returning ${columnList(generic)}`;
    texts.set(id, sql);
  }
  const bindings: Knex.Value[] = guarded ? [delta, key, delta, options.atLeast as number] : [delta, key];
  const [row] = await scope.change(entity, 'update', scope.db.raw(sql, bindings), { assigns: [field, ...touch] });
  return row;
}
