import type { CatalogColumn, CatalogTable } from '../db/catalog.js';
import { kindOfType } from '../db/catalog.js';
import { KEY_KINDS, type ColumnKind } from '../entities/columns.js';
import { camelCase, kebabCase, lowerFirst, pascalCase, plural, singular, snakeCaseOfField } from './naming.js';

/**
 * What `npm run pull` makes of the catalog: one plan per pulled table, pure
 * data that render.ts prints as a definition, its SDL and its migration.
 * - a table with a one-column primary key of a key type is an entity;
 * - a table whose primary key is two columns, each a foreign key to a pulled
 *   entity, and nothing else, is a join table (many-to-many, `through`);
 * - a foreign key of one column to a pulled entity's key is a to-one relation
 *   on its table and a to-many (`hasMany`) on the other; to a table not
 *   pulled it stays a plain column;
 * - a unique text column is a lookup.
 * Anything else is refused, naming table, column and type (PullRefusal).
 */

export interface FieldPlan {
  readonly field: string;
  readonly column: string;
  /** The column declaration as written in the definition (`asId(int())`, `numeric().orNull()`). */
  readonly expression: string;
  /** The helpers of define.ts the expression uses. */
  readonly helpers: readonly string[];
  /** The GraphQL type of the field, without `!` (`ID`, `[String]`, `Decimal`). */
  readonly graphql: string;
  readonly nullable: boolean;
  /** An insert may leave it out (a default, a sequence, NULL allowed). */
  readonly optionalOnCreate: boolean;
  /** The database chooses its values (serial, identity): not an input of create. */
  readonly generated: boolean;
}

export interface ToOnePlan {
  readonly field: string;
  readonly to: string;
  readonly by: string;
  readonly nullable: boolean;
}

export type ToManyPlan =
  | { readonly kind: 'foreign-key'; readonly field: string; readonly of: string; readonly by: string; readonly onDelete: 'restrict' | 'cascade' | 'set-null' }
  | { readonly kind: 'join'; readonly field: string; readonly of: string; readonly join: JoinPlan; readonly from: string; readonly to: string };

export interface EnumPlan {
  /** The Postgres type. */
  readonly type: string;
  readonly graphql: string;
  readonly labels: readonly string[];
  readonly file: string;
}

export interface EntityPlan {
  readonly kind: 'entity';
  readonly table: string;
  readonly type: string;
  /** The variable the definition is exported as, and its file's base name (src/entities/<file>.ts, schema/<file>.graphql). */
  readonly variable: string;
  readonly file: string;
  readonly fields: readonly FieldPlan[];
  readonly key: FieldPlan;
  readonly version: FieldPlan;
  /** The table has no version column: the migration adds it. */
  readonly addsVersion: boolean;
  readonly relations: readonly ToOnePlan[];
  readonly lists: readonly ToManyPlan[];
  readonly lookups: readonly { readonly field: string; readonly root: string }[];
  readonly roots: { readonly one: string; readonly many: string };
  /** The generic mutations offered, by root field; the definition's `mutations:` line decides after the first pull. */
  readonly mutations: { readonly create?: string; readonly update?: string; readonly delete?: string };
  readonly inputs: { readonly create: string; readonly patch: string };
  /** Some list serves this type as a connection: its SDL declares `<Type>Connection` and `<Type>Edge`. */
  readonly connection: boolean;
  readonly enums: readonly EnumPlan[];
}

export interface JoinPlan {
  readonly kind: 'join';
  readonly table: string;
  readonly variable: string;
  readonly file: string;
  readonly sides: readonly { readonly side: string; readonly column: string; readonly type: string; readonly table: string }[];
}

export type TablePlan = EntityPlan | JoinPlan;

/** What the project already declares that a pulled table must not take (read from schema/ and src/entities/). */
export interface Existing {
  /** GraphQL type names (objects, inputs, enums, scalars) -> the file declaring them. */
  readonly types: ReadonlyMap<string, string>;
  readonly queryFields: ReadonlyMap<string, string>;
  readonly mutationFields: ReadonlyMap<string, string>;
  /** Tables served by a definition pull did not write -> its file. */
  readonly tables: ReadonlyMap<string, string>;
  /** Variables exported by src/entities/index.ts that pull did not write. */
  readonly variables: ReadonlySet<string>;
}

export class PullRefusal extends Error {
  override readonly name = 'PullRefusal';
  constructor(readonly reasons: readonly string[]) {
    super(reasons.join('\n'));
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const VERSION = 'version';
const SUPPORTED = 'uuid, text, varchar, char, citext, smallint, integer, bigint, numeric, real, double precision, boolean, date, time, timestamp, timestamptz, json, jsonb, bytea, enums and one-dimensional arrays of these';

const BASE: Readonly<Record<ColumnKind, string>> = {
  uuid: 'uuid',
  text: 'text',
  smallint: 'smallint',
  integer: 'int',
  bigint: 'bigint',
  numeric: 'numeric',
  real: 'real',
  double: 'double',
  boolean: 'boolean',
  date: 'date',
  time: 'time',
  timestamp: 'localTimestamp',
  timestamptz: 'timestamp',
  json: 'json',
  jsonb: 'jsonb',
  enum: 'enumOf',
  bytea: 'bytea',
};
const GRAPHQL: Readonly<Record<ColumnKind, string>> = {
  uuid: 'ID',
  text: 'String',
  smallint: 'Int',
  integer: 'Int',
  bigint: 'BigInt',
  numeric: 'Decimal',
  real: 'Float',
  double: 'Float',
  boolean: 'Boolean',
  date: 'Date',
  time: 'Time',
  timestamp: 'DateTime',
  timestamptz: 'DateTime',
  json: 'JSON',
  jsonb: 'JSON',
  enum: '',
  bytea: 'Base64',
};

const quoteTs = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Plans every table of `pulled` (the tables named now and those pulled
 * before), all at once so relations between them come out in both
 * directions. `catalog` holds at least those tables. Throws PullRefusal with
 * every reason found.
 */
export function planPull(catalog: ReadonlyMap<string, CatalogTable>, pulled: readonly string[], existing: Existing): TablePlan[] {
  const refusals: string[] = [];
  const refuse = (reason: string): void => {
    refusals.push(reason);
  };
  const tables: CatalogTable[] = [];
  for (const name of pulled) {
    const table = catalog.get(name);
    if (!IDENTIFIER.test(name)) refuse(`table "${name}": not a plain lower-case SQL name, which a definition needs (rename it)`);
    else if (table === undefined) refuse(`table ${name}: no such table in the current schema of DATABASE_URL`);
    else if (existing.tables.has(name)) refuse(`table ${name}: already served by ${existing.tables.get(name)}, which pull did not write`);
    else tables.push(table);
  }
  const pulledNames = new Set(tables.map((t) => t.name));
  const isEntityTable = (t: CatalogTable): boolean => t.primaryKey.length === 1;
  const entityTables = new Map(tables.filter(isEntityTable).map((t) => [t.name, t]));
  const typeOf = (table: string): string => pascalCase(singular(table));

  // Join tables first: they decide which foreign keys are sides of a many-to-many.
  const joins: JoinPlan[] = [];
  for (const table of tables) {
    if (table.primaryKey.length === 0) {
      refuse(`table ${table.name}: no primary key; freshgraph reads and caches a row by its key (alter table ${table.name} add primary key (...))`);
      continue;
    }
    if (table.primaryKey.length === 1) continue;
    const join = joinOf(table, entityTables, pulledNames, refuse);
    if (join !== undefined) joins.push(join);
  }

  const enums = new Map<string, EnumPlan>();
  const plans: EntityPlan[] = [];
  for (const table of entityTables.values()) {
    const plan = entityOf(table, { entityTables, typeOf, joins, enums, refuse });
    if (plan !== undefined) plans.push(plan);
  }
  // Which types are listed through a connection: their SDL declares the connection types.
  const listed = new Set(plans.flatMap((p) => p.lists.map((l) => l.of)));
  const entities = plans.map((p) => ({ ...p, connection: listed.has(p.type) }));

  checkCollisions(entities, [...enums.values()], existing, refuse);
  if (refusals.length > 0) throw new PullRefusal(refusals);
  return [...entities, ...joins];
}

function joinOf(
  table: CatalogTable,
  entities: ReadonlyMap<string, CatalogTable>,
  pulled: ReadonlySet<string>,
  refuse: (reason: string) => void,
): JoinPlan | undefined {
  const where = `table ${table.name}`;
  const sides = table.primaryKey.map((column) => ({ column, fk: table.foreignKeys.find((fk) => fk.columns.length === 1 && fk.columns[0] === column) }));
  const others = table.columns.filter((c) => !table.primaryKey.includes(c.name));
  if (sides.length !== 2 || sides.some((s) => s.fk === undefined) || others.length > 0) {
    refuse(
      `${where}: its primary key (${table.primaryKey.join(', ')}) has ${table.primaryKey.length} columns; freshgraph serves a row by a key of one column, ` +
        'and a join table (two foreign keys forming the primary key, no other columns) as a many-to-many relation' +
        (others.length > 0 ? ` (it also has ${others.map((c) => c.name).join(', ')})` : ''),
    );
    return undefined;
  }
  const planned: JoinPlan['sides'][number][] = [];
  for (const { column, fk } of sides) {
    const target = fk?.references ?? '';
    const entity = entities.get(target);
    if (entity === undefined || entity.primaryKey[0] !== fk?.referencedColumns[0]) {
      refuse(`${where}: a join table whose column ${column} references ${target}${pulled.has(target) ? ', which is not an entity with a one-column key' : ', which is not pulled'}; pull ${target} with it`);
      return undefined;
    }
    planned.push({ side: camelCase(column.replace(/_id$/, '')), column, type: pascalCase(singular(target)), table: target });
  }
  if (planned[0]?.side === planned[1]?.side) {
    refuse(`${where}: both sides would be named ${planned[0]?.side ?? ''}`);
    return undefined;
  }
  return { kind: 'join', table: table.name, variable: camelCase(table.name), file: kebabCase(table.name), sides: planned };
}

interface Context {
  readonly entityTables: ReadonlyMap<string, CatalogTable>;
  readonly typeOf: (table: string) => string;
  readonly joins: readonly JoinPlan[];
  readonly enums: Map<string, EnumPlan>;
  readonly refuse: (reason: string) => void;
}

/** The foreign keys of `table` that pull serves as relations: one column, to the key of a pulled entity, of the key's type. */
function relationKeys(table: CatalogTable, entityTables: ReadonlyMap<string, CatalogTable>) {
  return table.foreignKeys.flatMap((fk) => {
    const target = entityTables.get(fk.references);
    const column = table.columns.find((c) => c.name === fk.columns[0]);
    const targetKey = target?.columns.find((c) => c.name === target.primaryKey[0]);
    if (fk.columns.length !== 1 || target === undefined || column === undefined || targetKey === undefined) return [];
    if (fk.referencedColumns[0] !== targetKey.name || column.type !== targetKey.type || column.array) return [];
    return [{ column, target, onDelete: fk.onDelete }];
  });
}

function entityOf(table: CatalogTable, ctx: Context): EntityPlan | undefined {
  const { refuse } = ctx;
  const type = ctx.typeOf(table.name);
  const keyColumn = table.columns.find((c) => c.name === table.primaryKey[0]) as CatalogColumn;
  const keyKind = kindOfType(keyColumn.type, keyColumn.enumLabels);
  let ok = true;
  if (keyKind === undefined || !KEY_KINDS.has(keyKind) || keyColumn.array) {
    refuse(`table ${table.name}, column ${keyColumn.name}: the primary key is of type ${keyColumn.type}${keyColumn.array ? '[]' : ''}; a key must be uuid, smallint, integer, bigint or text`);
    ok = false;
  }
  const references = new Map(relationKeys(table, ctx.entityTables).map((r) => [r.column.name, r]));
  const fields: FieldPlan[] = [];
  const toOne: ToOnePlan[] = [];
  for (const column of table.columns) {
    const where = `table ${table.name}, column ${column.name}`;
    if (!IDENTIFIER.test(column.name)) {
      refuse(`${where}: not a plain lower-case SQL name, which a definition needs (rename it)`);
      ok = false;
      continue;
    }
    const kind = kindOfType(column.type, column.enumLabels);
    if (kind === undefined) {
      refuse(`${where}: type ${column.type}${column.array ? '[]' : ''} is not supported (supported: ${SUPPORTED})`);
      ok = false;
      continue;
    }
    const isKey = column.name === keyColumn.name;
    const reference = references.get(column.name);
    if (column.name === VERSION && (column.type !== 'int4' || column.nullable || column.array)) {
      refuse(`${where}: freshgraph keeps the row version in an integer NOT NULL column named version, but this one is ${column.type}${column.nullable ? ' and may be NULL' : ''}`);
      ok = false;
      continue;
    }
    // A foreign key column that does not end in _id gets it, so that the relation can have the plain name (reports_to -> reportsToId, reportsTo).
    const field = reference !== undefined && !column.name.endsWith('_id') ? `${camelCase(column.name)}Id` : camelCase(column.name);
    fields.push(fieldOf(column, kind, field, isKey || reference !== undefined, ctx.enums));
    if (reference !== undefined) toOne.push({ field: camelCase(column.name.replace(/_id$/, '')), to: ctx.typeOf(reference.target.name), by: field, nullable: column.nullable });
  }
  if (!ok) return undefined;
  // The version goes last, where the migration adds it, so that pulling again after it was added changes nothing.
  const hasVersion = table.columns.some((c) => c.name === VERSION);
  const own = fields.findIndex((f) => f.column === VERSION);
  if (own !== -1) fields.push(...fields.splice(own, 1));
  else fields.push(fieldOf({ name: VERSION, type: 'int4', array: false, nullable: false, hasDefault: true, generated: false, enumLabels: undefined }, 'integer', VERSION, false, ctx.enums));
  const taken = new Set(fields.map((f) => f.field));
  const relations = toOne.map((relation) => {
    // A column with the relation's name (artist_id and artist): the relation takes the target's name too.
    const field = taken.has(relation.field) ? `${relation.field}${relation.to}` : relation.field;
    if (taken.has(field)) refuse(`table ${table.name}: the relation of column ${relation.by} would be named ${field}, which is a column's field`);
    taken.add(field);
    return { ...relation, field };
  });
  const lists = listsOf(table, type, ctx, taken);
  const key = fields.find((f) => f.column === keyColumn.name) as FieldPlan;
  const version = fields.find((f) => f.column === VERSION) as FieldPlan;
  const variable = lowerFirst(type);
  const one = variable;
  const many = plural(variable) === one ? `${one}List` : plural(variable);
  const unique = table.unique.filter((u) => u.length === 1).map((u) => u[0]);
  const lookups = fields
    .filter((f) => unique.includes(f.column) && f !== key && !f.nullable && f.graphql === 'String')
    .map((f) => ({ field: f.field, root: `${variable}By${f.field.charAt(0).toUpperCase()}${f.field.slice(1)}` }));
  const settable = fields.filter((f) => f !== version && !f.generated);
  const patchable = settable.filter((f) => f !== key);
  const enums = [...new Set(fields.map((f) => f.graphql.replace(/[[\]]/g, '')))].flatMap((g) => [...ctx.enums.values()].filter((e) => e.graphql === g));
  return {
    kind: 'entity',
    table: table.name,
    type,
    variable,
    file: kebabCase(singular(table.name)),
    fields,
    key,
    version,
    addsVersion: !hasVersion,
    relations,
    lists,
    lookups,
    roots: { one, many },
    mutations: {
      ...(settable.length > 0 ? { create: `create${type}` } : {}),
      ...(patchable.length > 0 ? { update: `update${type}` } : {}),
      delete: `delete${type}`,
    },
    inputs: { create: `New${type}`, patch: `${type}Patch` },
    connection: false,
    enums,
  };
}

function fieldOf(column: CatalogColumn, kind: ColumnKind, field: string, id: boolean, enums: Map<string, EnumPlan>): FieldPlan {
  const helpers = new Set<string>();
  let base: string;
  let graphql = GRAPHQL[kind];
  const helper = BASE[kind];
  helpers.add(helper);
  if (kind === 'enum') {
    const labels = column.enumLabels ?? [];
    const plan = enums.get(column.type) ?? { type: column.type, graphql: pascalCase(column.type), labels, file: `enum-${kebabCase(column.type)}` };
    enums.set(column.type, plan);
    graphql = plan.graphql;
    base = `enumOf(${quoteTs(column.type)}, [${labels.map(quoteTs).join(', ')}], ${quoteTs(plan.graphql)})`;
  } else if (kind === 'text' && column.type !== 'text') base = `text(undefined, ${quoteTs(column.type)})`;
  else if (kind === 'json') base = "json({ sqlType: 'json' })";
  else base = `${helper}()`;
  let expression = base;
  if (id && kind !== 'uuid') {
    expression = `asId(${expression})`;
    helpers.add('asId');
    graphql = 'ID';
  }
  if (column.array) {
    expression = `arrayOf(${expression})`;
    helpers.add('arrayOf');
    graphql = `[${graphql}]`;
  }
  if (snakeCaseOfField(field) !== column.name) expression += `.as(${quoteTs(column.name)})`;
  if (column.nullable) expression += '.orNull()';
  return {
    field,
    column: column.name,
    expression,
    helpers: [...helpers],
    graphql,
    nullable: column.nullable,
    optionalOnCreate: column.nullable || column.hasDefault,
    generated: column.generated,
  };
}

/** The to-many relations of an entity: from the foreign keys of other pulled tables to its key, and from the join tables naming it. */
function listsOf(table: CatalogTable, type: string, ctx: Context, taken: Set<string>): ToManyPlan[] {
  const lists: ToManyPlan[] = [];
  const name = (base: string, by: string): string => {
    let field = base;
    if (taken.has(field)) field = `${base.replace(/By[A-Z]\w*$/, '')}By${by.charAt(0).toUpperCase()}${by.slice(1)}`;
    if (taken.has(field)) ctx.refuse(`table ${table.name}: its list of ${base} through ${by} would be named ${field}, which is taken`);
    taken.add(field);
    return field;
  };
  const incoming = [...ctx.entityTables.values()].flatMap((member) => relationKeys(member, ctx.entityTables).filter((r) => r.target.name === table.name).map((r) => ({ member, ...r })));
  for (const { member, column, onDelete } of incoming) {
    const memberType = ctx.typeOf(member.name);
    const by = column.name.endsWith('_id') ? camelCase(column.name) : `${camelCase(column.name)}Id`;
    const relation = camelCase(column.name.replace(/_id$/, ''));
    const ambiguous = member.name === table.name || incoming.filter((i) => i.member === member).length > 1;
    const base = lowerFirst(plural(memberType));
    const field = name(ambiguous ? `${base}By${relation.charAt(0).toUpperCase()}${relation.slice(1)}` : base, relation);
    // The list follows what deleting the owner does to its members in the table (set default is served as restrict).
    const rule = onDelete === 'c' ? 'cascade' : onDelete === 'n' && column.nullable ? 'set-null' : 'restrict';
    lists.push({ kind: 'foreign-key', field, of: memberType, by, onDelete: rule });
  }
  for (const join of ctx.joins) {
    const [a, b] = join.sides;
    if (a === undefined || b === undefined) continue;
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      if (from.type !== type) continue;
      lists.push({ kind: 'join', field: name(lowerFirst(plural(to.side)), join.variable), of: to.type, join, from: from.side, to: to.side });
    }
  }
  return lists;
}

function checkCollisions(entities: readonly EntityPlan[], enums: readonly EnumPlan[], existing: Existing, refuse: (reason: string) => void): void {
  const claimed = new Map<string, string>();
  const claim = (kind: string, name: string, table: string, taken: ReadonlyMap<string, string>): void => {
    const other = taken.get(name);
    if (other !== undefined) refuse(`table ${table}: ${kind} ${name} collides with the ${kind} ${name} declared in ${other}`);
    const mine = claimed.get(`${kind} ${name}`);
    if (mine !== undefined && mine !== table) refuse(`table ${table}: ${kind} ${name} is also what table ${mine} would be named`);
    claimed.set(`${kind} ${name}`, table);
  };
  for (const e of entities) {
    claim('type', e.type, e.table, existing.types);
    if (e.connection) {
      claim('type', `${e.type}Connection`, e.table, existing.types);
      claim('type', `${e.type}Edge`, e.table, existing.types);
    }
    if (e.mutations.create !== undefined) claim('type', e.inputs.create, e.table, existing.types);
    if (e.mutations.update !== undefined) claim('type', e.inputs.patch, e.table, existing.types);
    claim('field', `Query.${e.roots.one}`, e.table, prefixed('Query', existing.queryFields));
    claim('field', `Query.${e.roots.many}`, e.table, prefixed('Query', existing.queryFields));
    for (const l of e.lookups) claim('field', `Query.${l.root}`, e.table, prefixed('Query', existing.queryFields));
    for (const m of Object.values(e.mutations)) claim('field', `Mutation.${m}`, e.table, prefixed('Mutation', existing.mutationFields));
    if (existing.variables.has(e.variable)) refuse(`table ${e.table}: its definition would be exported as ${e.variable}, which src/entities/index.ts already exports`);
  }
  for (const en of enums) claim('type', en.graphql, `of enum ${en.type}`, existing.types);
}

const prefixed = (type: string, fields: ReadonlyMap<string, string>): ReadonlyMap<string, string> => new Map([...fields].map(([name, file]) => [`${type}.${name}`, file]));

