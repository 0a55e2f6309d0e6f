/**
 * How a cached type is declared: its GraphQL type name, its table, its columns
 * and how each maps to a field, its root read fields, its secondary lookups and
 * its relations. Everything that is the same for every type (reads by id,
 * loaders, by-id resolvers, `_entities`, the fast path's routes, the repair
 * worker's and the sampler's sources) is derived from these declarations; see
 * docs/entities.md. The row type is inferred from the columns, as drizzle does:
 * nobody restates a column list.
 */

import { KEY_KINDS, parseKey, type Column, type ColumnKind } from './columns.js';

export * from './columns.js';

type Columns = Readonly<Record<string, Column<unknown>>>;

/** The row of a set of columns: what the cache stores and GraphQL resolves from. */
export type RowOfColumns<C extends Columns> = { readonly [K in keyof C]: C[K] extends Column<infer T> ? T : never };

/** A field of another type that holds an entity's id and resolves to that entity through the loaders. */
export interface Relation {
  /** The GraphQL type that has the field: the entity itself, or a type nested in its rows (OrderLine). */
  readonly on: string;
  readonly field: string;
  /** The entity type it points at. */
  readonly to: string;
  /** The field of `on` that holds the target's id. */
  readonly by: string;
}

/** A unique field read through a cached hint (`<field value> -> id`), verified against the entity on every use. */
export interface Lookup {
  /** The root field serving it, taking one argument named like the field (`productBySku(sku:)`). */
  readonly root: string;
  /** Checks and normalises the argument; throws a coded error for bad input. */
  readonly validate: (value: string, argument: string) => string;
}

/** One term of a list's order: a field of the members, ascending or descending. */
export interface OrderTerm {
  readonly field: string;
  readonly direction: 'asc' | 'desc';
}

export const asc = (field: string): OrderTerm => ({ field, direction: 'asc' });
export const desc = (field: string): OrderTerm => ({ field, direction: 'desc' });

/**
 * How a to-many relation is served: as a connection (the Cursor Connections
 * spec: `first`/`after`, pages of at most 100), or, for a small bounded list,
 * as a plain GraphQL list of at most `max` members.
 */
export type ServeAs = { readonly kind: 'connection' } | { readonly kind: 'list'; readonly max: number };

export const asConnection = (): ServeAs => ({ kind: 'connection' });
export const asList = (max: number): ServeAs => ({ kind: 'list', max });

/** A join table of a many-to-many relation: its name and, per side, the column naming that side's entity. */
export interface JoinTable {
  readonly table: string;
  /** Side name -> its column and the entity type it references. */
  readonly sides: Readonly<Record<string, { readonly column: string; readonly type: string }>>;
}

/** Declares a join table once; each side's relation then names it (`through`). */
export function defineJoinTable(config: JoinTable): JoinTable {
  if (!IDENTIFIER.test(config.table)) throw new EntityDefinitionError(`join table "${config.table}" is not a plain lower-case SQL name`);
  const sides = Object.entries(config.sides);
  if (sides.length !== 2) throw new EntityDefinitionError(`join table ${config.table}: needs exactly two sides`);
  for (const [side, { column }] of sides) {
    if (!IDENTIFIER.test(column)) throw new EntityDefinitionError(`join table ${config.table}: column "${column}" of side ${side} is not a plain lower-case SQL name`);
  }
  return config;
}

/**
 * A to-many relation of an entity, served as a field of it:
 * - `foreign-key`: the members of type `of` whose field `by` holds this entity's key (`Account.orders`);
 * - `join`: the entities on the `to` side of a join table's rows whose `from` side is this one (`Category.products`).
 * Members are ordered by `order`, then by their key (in the direction of the last term), so every order is total.
 */
/** What deleting an owner does to the members whose foreign key names it, as the foreign key says (ON DELETE). */
export type OnDelete = 'restrict' | 'cascade' | 'set-null';

export type ToMany =
  | {
      readonly kind: 'foreign-key';
      readonly of: string;
      readonly by: string;
      readonly order: readonly OrderTerm[];
      readonly serve: ServeAs;
      readonly onDelete: OnDelete;
    }
  | { readonly kind: 'join'; readonly join: JoinTable; readonly from: string; readonly to: string; readonly order: readonly OrderTerm[]; readonly serve: ServeAs };

export const hasMany = (
  of: string,
  options: { readonly by: string; readonly order: readonly OrderTerm[]; readonly serve?: ServeAs; readonly onDelete?: OnDelete },
): ToMany => ({
  kind: 'foreign-key',
  of,
  by: options.by,
  order: options.order,
  serve: options.serve ?? asConnection(),
  onDelete: options.onDelete ?? 'restrict',
});

export const through = (
  join: JoinTable,
  options: { readonly from: string; readonly to: string; readonly order: readonly OrderTerm[]; readonly serve?: ServeAs },
): ToMany => ({ kind: 'join', join, from: options.from, to: options.to, order: options.order, serve: options.serve ?? asConnection() });

/** A root field listing every row of the type (`Query.productCatalog`), in `order`. */
export interface RootList {
  readonly order: readonly OrderTerm[];
  readonly serve?: ServeAs;
}

export interface EntityConfig<T extends string, C extends Columns> {
  /** The GraphQL type name, also the type in cache keys: `{Product:<id>}`. */
  readonly type: T;
  readonly table: string;
  /**
   * In the order GraphQL declares the fields: a row in this order can be served as is. Needs the key
   * (served as `ID`: `uuid()`, or `asId(int())`, `asId(bigint())`, `asId(text())`) and `version` (`int()`).
   */
  readonly columns: C;
  /** The field of the primary key. @default 'id' */
  readonly key?: keyof C & string;
  /** The field of the row version. @default 'version' */
  readonly version?: keyof C & string;
  /** Root fields: `one(id: ID!): T`, `many(ids: [ID!]!): [T]!`, and lists over the whole table. */
  readonly roots?: { readonly one?: string; readonly many?: string; readonly lists?: Readonly<Record<string, RootList>> };
  readonly lookups?: { readonly [K in keyof C & string]?: Lookup };
  readonly relations?: readonly Relation[];
  /** To-many relations, by the field that serves them. */
  readonly lists?: Readonly<Record<string, ToMany>>;
  /**
   * Generic mutations, served by declaration (services/entity-mutations.ts), by root field name:
   * `create(input: New<Type>!): <Type>!`, `update(id: ID!, patch: <Type>Patch!, expectedVersion: Int): <Type>!`,
   * `delete(id: ID!, expectedVersion: Int): Boolean!`. `touch`: timestamp fields set to now() by every change.
   */
  readonly mutations?: EntityMutations<keyof C & string>;
}

export interface EntityMutations<F extends string = string> {
  readonly create?: string;
  readonly update?: string;
  readonly delete?: string;
  readonly touch?: readonly F[];
}

/** One column as the generic SQL sees it. */
export interface FieldColumn {
  readonly field: string;
  readonly column: string;
  readonly kind: ColumnKind;
  /** What bound values are cast to. */
  readonly sqlType: string;
  readonly array: boolean;
  readonly nullable: boolean;
  readonly maxItems: number | undefined;
  readonly id: boolean;
  readonly graphqlType: string;
  readonly enumNames: ReadonlyMap<string, string> | undefined;
  readonly decode: (value: unknown) => unknown;
  readonly encode: (value: unknown) => unknown;
}

export interface EntityDefinition<Row = Record<string, unknown>, T extends string = string> {
  readonly type: T;
  readonly table: string;
  /** Every column, in declaration order. */
  readonly fields: readonly FieldColumn[];
  /** The primary key: served as the GraphQL field of the same name, typed ID, used by @key and every cache key. */
  readonly key: FieldColumn;
  /** The row version: starts at 1, grows by exactly 1 per committed change. */
  readonly version: FieldColumn;
  readonly roots: { readonly one?: string; readonly many?: string };
  /** Root lists over the whole table, by root field. */
  readonly rootLists: ReadonlyMap<string, RootList>;
  readonly lookups: ReadonlyMap<string, Lookup & { readonly column: FieldColumn }>;
  readonly relations: readonly Relation[];
  /** To-many relations, by field. */
  readonly lists: ReadonlyMap<string, ToMany>;
  /** Generic mutations by declaration; {} when none. */
  readonly mutations: EntityMutations;
  /** A row as the driver returned it (column names) -> the entity's row (field names). */
  decode(raw: Readonly<Record<string, unknown>>): Row;
  /** The canonical form of a key a client sent, or undefined when it cannot be one of this type's keys. */
  parseKey(raw: string): string | undefined;
  /** Phantom: carries the row type for RowOf. */
  readonly __row?: Row;
}

export type RowOf<E> = E extends EntityDefinition<infer R, string> ? R : never;

const snakeCase = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export class EntityDefinitionError extends Error {
  override readonly name = 'EntityDefinitionError';
}

/** Declares a cached type; checks what can be checked without the schema (server start checks the rest). */
export function defineEntity<const T extends string, C extends Columns>(config: EntityConfig<T, C>): EntityDefinition<RowOfColumns<C>, T> {
  const where = `entity ${config.type}`;
  if (!/^[A-Z][A-Za-z0-9]*$/.test(config.type)) throw new EntityDefinitionError(`${where}: the type must be a GraphQL type name`);
  if (!IDENTIFIER.test(config.table)) throw new EntityDefinitionError(`${where}: table "${config.table}" is not a plain lower-case SQL name`);
  const fields: FieldColumn[] = Object.entries(config.columns).map(([field, c]) => {
    const name = c.name ?? snakeCase(field);
    if (!IDENTIFIER.test(name)) throw new EntityDefinitionError(`${where}: column "${name}" is not a plain lower-case SQL name`);
    return {
      field,
      column: name,
      kind: c.kind,
      sqlType: c.sqlType,
      array: c.array,
      nullable: c.nullable,
      maxItems: c.maxItems,
      id: c.id,
      graphqlType: c.graphqlType,
      enumNames: c.enumNames,
      decode: c.decode,
      encode: c.encode,
    };
  });
  const byField = new Map(fields.map((f) => [f.field, f]));
  const keyField = config.key ?? 'id';
  const versionField = config.version ?? 'version';
  const id = byField.get(keyField);
  const version = byField.get(versionField);
  if (id === undefined || !id.id || !KEY_KINDS.has(id.kind) || id.nullable || id.array) {
    throw new EntityDefinitionError(
      `${where}: the key \`${keyField}\` must be a non-null column served as ID: uuid(), asId(int()), asId(bigint()) or asId(text())`,
    );
  }
  if (version?.kind !== 'integer' || version.nullable) throw new EntityDefinitionError(`${where}: needs a \`${versionField}: int()\` column`);
  const lookups = new Map<string, Lookup & { column: FieldColumn }>();
  for (const [field, lookup] of Object.entries(config.lookups ?? {}) as [string, Lookup | undefined][]) {
    const col = byField.get(field);
    if (lookup === undefined) continue;
    if (col?.kind !== 'text' || col.array) throw new EntityDefinitionError(`${where}: lookup "${field}" must name a text column`);
    lookups.set(field, { ...lookup, column: col });
  }
  for (const field of Object.keys(config.lists ?? {})) {
    if (byField.has(field)) throw new EntityDefinitionError(`${where}: list ${field} has the name of a column`);
  }
  for (const field of config.mutations?.touch ?? []) {
    const col = byField.get(field);
    if (col?.kind !== 'timestamptz' && col?.kind !== 'timestamp') throw new EntityDefinitionError(`${where}: mutations.touch names ${field}, which is not a timestamp column`);
  }
  const decoders = fields.map((f) => [f.field, f.column, f.decode] as const);
  const { lists: rootLists, ...roots } = config.roots ?? {};
  return {
    type: config.type,
    table: config.table,
    fields,
    key: id,
    version,
    roots,
    rootLists: new Map(Object.entries(rootLists ?? {})),
    lookups,
    relations: config.relations ?? [],
    lists: new Map(Object.entries(config.lists ?? {})),
    mutations: config.mutations ?? {},
    decode(raw) {
      // Fields are assigned in one order, so every row of a type shares one hidden class.
      const row: Record<string, unknown> = {};
      for (const [field, col, decode] of decoders) row[field] = decode(raw[col]);
      return row as RowOfColumns<C>;
    },
    parseKey: (raw) => parseKey(id.kind, raw),
  };
}
