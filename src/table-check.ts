import type { CatalogTable } from './db/catalog.js';
import { kindOfType } from './db/catalog.js';
import { EntityDefinitionError, type EntityDefinition, type FieldColumn } from './entities/define.js';
import type { ListDefinition } from './entities/lists.js';

/**
 * Checks the definitions against the tables they read, at start, so a
 * definition that disagrees with its table stops the server instead of
 * answering INTERNAL_SERVER_ERROR at the first read: every column exists with
 * the type the definition decodes (the same Postgres type, as an array where
 * declared), may be NULL only where the definition allows it, the key is the
 * table's primary key, and every join table has its two columns of the keys'
 * types. `tables` is what the catalog says (db/catalog.ts).
 */
export function checkEntitiesAgainstTables(
  entities: readonly EntityDefinition<unknown>[],
  lists: readonly ListDefinition[],
  tables: ReadonlyMap<string, CatalogTable>,
): void {
  for (const entity of entities) {
    const fail = (message: string): never => {
      throw new EntityDefinitionError(`entity ${entity.type} (src/entities/) and table ${entity.table} disagree: ${message}`);
    };
    const table = tables.get(entity.table) ?? fail(`there is no table ${entity.table} (has its migration run?)`);
    const columns = new Map(table.columns.map((c) => [c.name, c]));
    for (const field of entity.fields) {
      const column = columns.get(field.column) ?? fail(`${field.field} reads column ${field.column}, which ${entity.table} does not have`);
      const mismatch = typeMismatch(field, column.type, column.array, column.enumLabels);
      if (mismatch !== undefined) fail(`${field.field} reads ${field.column} as ${declared(field)}, but the column is ${actual(column.type, column.array)}${mismatch}`);
      if (column.nullable && !field.nullable) fail(`${field.column} may be NULL, but ${field.field} does not allow it (declare it .orNull(), or make the column NOT NULL)`);
    }
    if (table.primaryKey.length !== 1 || table.primaryKey[0] !== entity.key.column) {
      fail(`the key ${entity.key.field} is column ${entity.key.column}, but the primary key is (${table.primaryKey.join(', ') || 'none'})`);
    }
  }
  for (const list of lists) {
    const { source } = list;
    if (source.kind !== 'join') continue;
    const owner = list.owner as EntityDefinition<unknown>;
    const fail = (message: string): never => {
      throw new EntityDefinitionError(`list ${list.name} (src/entities/) and join table ${source.table} disagree: ${message}`);
    };
    const table = tables.get(source.table) ?? fail(`there is no table ${source.table} (has its migration run?)`);
    for (const [name, key] of [
      [source.ownerColumn, owner.key],
      [source.memberColumn, list.member.key],
    ] as const) {
      const column = table.columns.find((c) => c.name === name) ?? fail(`it names column ${name}, which ${source.table} does not have`);
      if (column.type !== bare(key.sqlType) || column.array) fail(`${name} is ${actual(column.type, column.array)}, but the key it holds is ${bare(key.sqlType)}`);
      if (column.nullable) fail(`${name} may be NULL; a join row names both sides`);
    }
  }
}

const bare = (sqlType: string): string => sqlType.replace(/\[\]$/, '').replace(/^"(.*)"$/, '$1');
const declared = (field: FieldColumn): string => `${bare(field.sqlType)}${field.array ? '[]' : ''}`;
const actual = (type: string, array: boolean): string => `${type}${array ? '[]' : ''}`;

/** Why the declared column does not read this Postgres type, or undefined when it does. */
function typeMismatch(field: FieldColumn, type: string, array: boolean, enumLabels: readonly string[] | undefined): string | undefined {
  if (field.array !== array) return '';
  if (kindOfType(type, enumLabels) !== field.kind) return '';
  if (bare(field.sqlType) !== type) return '';
  if (field.kind === 'enum') {
    const labels = [...(field.enumNames?.keys() ?? [])];
    if (labels.join('\u0000') !== (enumLabels ?? []).join('\u0000')) return ` (its labels are ${JSON.stringify(enumLabels)}, the definition's ${JSON.stringify(labels)})`;
  }
  return undefined;
}
