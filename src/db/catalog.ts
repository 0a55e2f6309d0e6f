import type { Knex } from 'knex';
import type { ColumnKind } from '../entities/columns.js';
import { rowsOf } from './rows.js';

/**
 * What Postgres' catalog says about tables of the current schema, in one read:
 * columns with their types and nullability, the primary key, unique
 * constraints, foreign keys and the labels of every enum they use. Read by the
 * start-up check (definitions against the tables) and by `npm run pull`.
 */

export interface CatalogColumn {
  readonly name: string;
  /** The type as Postgres names it (`int4`, `varchar`, `mood`; the element's for an array). */
  readonly type: string;
  readonly array: boolean;
  readonly nullable: boolean;
  /** The column has a default (`nextval(...)`, `now()`, an identity): an insert may leave it out. */
  readonly hasDefault: boolean;
  /** An identity, serial or generated (`GENERATED ALWAYS AS ... STORED`) column: the database chooses its values. */
  readonly generated: boolean;
  /** The enum's labels in order, when the type is an enum. */
  readonly enumLabels: readonly string[] | undefined;
}

export interface CatalogForeignKey {
  readonly columns: readonly string[];
  readonly references: string;
  readonly referencedColumns: readonly string[];
  /** What deleting the referenced row does (ON DELETE): `a` no action, `r` restrict, `c` cascade, `n` set null, `d` set default. */
  readonly onDelete: string;
}

export interface CatalogTable {
  readonly name: string;
  /** In the table's order. */
  readonly columns: readonly CatalogColumn[];
  readonly primaryKey: readonly string[];
  /** Each unique constraint (or unique index) other than the primary key, by its columns. */
  readonly unique: readonly (readonly string[])[];
  readonly foreignKeys: readonly CatalogForeignKey[];
}

/** The tables named (all of the current schema's when none are), by name; a table that does not exist is absent. */
export async function readCatalog(db: Knex | Knex.Transaction, tables?: readonly string[]): Promise<Map<string, CatalogTable>> {
  const only = tables === undefined ? null : [...tables];
  const columns = rowsOf(
    await db.raw(
      `select c.relname as table_name, a.attname as column_name, a.attnum,
              case when t.typcategory = 'A' then e.typname else t.typname end as type_name,
              t.typcategory = 'A' as is_array, not a.attnotnull as nullable,
              a.atthasdef or a.attidentity <> '' as has_default,
              a.attidentity <> '' or a.attgenerated <> '' or coalesce(pg_get_expr(d.adbin, d.adrelid), '') like 'nextval(%' as generated,
              case when coalesce(e.typtype, t.typtype) = 'e'
                   then (select array_agg(enumlabel::text order by enumsortorder) from pg_enum where enumtypid = coalesce(e.oid, t.oid)) end as enum_labels
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_type t on t.oid = a.atttypid
       left join pg_type e on e.oid = t.typelem and t.typcategory = 'A'
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
       where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p')
         and a.attnum > 0 and not a.attisdropped and (?::text[] is null or c.relname = any(?::text[]))
       order by c.relname, a.attnum`,
      [only, only],
    ),
  );
  const constraints = rowsOf(
    await db.raw(
      `select c.relname as table_name, k.contype as kind,
              array(select a.attname::text from unnest(k.conkey) with ordinality as u(attnum, n)
                    join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum order by u.n) as columns,
              r.relname as references,
              array(select a.attname::text from unnest(k.confkey) with ordinality as u(attnum, n)
                    join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum order by u.n) as referenced,
              k.confdeltype::text as on_delete
       from pg_constraint k
       join pg_class c on c.oid = k.conrelid
       left join pg_class r on r.oid = k.confrelid
       where c.relnamespace = current_schema()::regnamespace and k.contype in ('p', 'u', 'f')
         and (?::text[] is null or c.relname = any(?::text[]))
       union all
       select c.relname, 'u', array(select a.attname::text from unnest(i.indkey) with ordinality as u(attnum, n)
                                    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = u.attnum order by u.n), null, null, null
       from pg_index i join pg_class c on c.oid = i.indrelid
       where c.relnamespace = current_schema()::regnamespace and i.indisunique and not i.indisprimary and i.indpred is null
         and i.indexprs is null and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
         and (?::text[] is null or c.relname = any(?::text[]))`,
      [only, only, only, only],
    ),
  );
  const byTable = new Map<string, { columns: CatalogColumn[]; primaryKey: string[]; unique: string[][]; foreignKeys: CatalogForeignKey[] }>();
  const entry = (name: string) => {
    let found = byTable.get(name);
    if (found === undefined) byTable.set(name, (found = { columns: [], primaryKey: [], unique: [], foreignKeys: [] }));
    return found;
  };
  for (const row of columns) {
    const labels = row['enum_labels'];
    entry(String(row['table_name'])).columns.push({
      name: String(row['column_name']),
      type: String(row['type_name']),
      array: row['is_array'] === true,
      nullable: row['nullable'] === true,
      hasDefault: row['has_default'] === true,
      generated: row['generated'] === true,
      enumLabels: Array.isArray(labels) ? labels.map(String) : undefined,
    });
  }
  for (const row of constraints) {
    const table = entry(String(row['table_name']));
    const cols = (row['columns'] as unknown[]).map(String);
    if (row['kind'] === 'p') table.primaryKey = cols;
    else if (row['kind'] === 'u') {
      if (!table.unique.some((u) => u.join() === cols.join())) table.unique.push(cols);
    } else {
      table.foreignKeys.push({ columns: cols, references: String(row['references']), referencedColumns: (row['referenced'] as unknown[]).map(String), onDelete: String(row['on_delete']) });
    }
  }
  return new Map([...byTable].filter(([, t]) => t.columns.length > 0).map(([name, t]) => [name, { name, ...t }]));
}

/** The column kind a Postgres type is read as (columns.ts), or undefined for one freshgraph does not serve. */
export function kindOfType(type: string, enumLabels: readonly string[] | undefined): ColumnKind | undefined {
  if (enumLabels !== undefined) return 'enum';
  return TYPE_KINDS[type];
}

const TYPE_KINDS: Readonly<Record<string, ColumnKind>> = {
  uuid: 'uuid',
  text: 'text',
  varchar: 'text',
  bpchar: 'text',
  citext: 'text',
  name: 'text',
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  numeric: 'numeric',
  float4: 'real',
  float8: 'double',
  bool: 'boolean',
  date: 'date',
  time: 'time',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
  json: 'json',
  jsonb: 'jsonb',
  bytea: 'bytea',
};
