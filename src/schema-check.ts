import { Kind, type DocumentNode, type FieldDefinitionNode, type InputValueDefinitionNode, type TypeNode } from 'graphql';
import { EntityDefinitionError, type EntityDefinition, type FieldColumn } from './entities/define.js';
import type { ListDefinition } from './entities/lists.js';

/**
 * Checks the entity definitions against the SDL in schema/ at start-up, so a
 * definition and its GraphQL type cannot drift apart silently: each entity is
 * an object type keyed by its key field (`@key(fields: "id")`), every column is
 * a field of it of the type the column is served as (a nullable column only
 * on a nullable field), its root fields exist on Query with the arguments the
 * derived resolvers read, every relation names fields that exist, every list
 * field has the shape it is served in (a connection taking `first` and
 * `after`, or a plain non-null list of its members), and no field of an
 * entity type is left without something to resolve it (`resolved`: the fields
 * hand-written resolvers serve, as `Type.field`).
 */
export function checkEntitiesAgainstSchema(
  entities: readonly EntityDefinition<unknown>[],
  document: DocumentNode,
  lists: readonly ListDefinition[] = [],
  resolved: ReadonlySet<string> = new Set(),
): void {
  type ObjectType = { fields: Map<string, FieldDefinitionNode>; keys: string[] };
  const types = new Map<string, ObjectType>();
  const inputs = new Map<string, Map<string, InputValueDefinitionNode>>();
  for (const def of document.definitions) {
    if (def.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION || def.kind === Kind.INPUT_OBJECT_TYPE_EXTENSION) {
      const fields = inputs.get(def.name.value) ?? new Map<string, InputValueDefinitionNode>();
      for (const field of def.fields ?? []) fields.set(field.name.value, field);
      inputs.set(def.name.value, fields);
      continue;
    }
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    const type: ObjectType = types.get(def.name.value) ?? { fields: new Map(), keys: [] };
    for (const field of def.fields ?? []) type.fields.set(field.name.value, field);
    for (const directive of def.directives ?? []) {
      if (directive.name.value !== 'key') continue;
      const fields = directive.arguments?.find((a) => a.name.value === 'fields')?.value;
      if (fields?.kind === Kind.STRING) type.keys.push(fields.value.trim());
    }
    types.set(def.name.value, type);
  }
  const fail = (entity: EntityDefinition<unknown>, message: string): never => {
    throw new EntityDefinitionError(`entity ${entity.type} (src/entities/) and schema/ disagree: ${message}`);
  };
  const query = types.get('Query');
  const rootField = (entity: EntityDefinition<unknown>, name: string, argument: string): void => {
    const field = query?.fields.get(name);
    if (field === undefined) fail(entity, `Query.${name} is declared as a root field but the schema has no such field`);
    if (!field?.arguments?.some((a) => a.name.value === argument)) fail(entity, `Query.${name} must take an argument named "${argument}"`);
  };
  for (const entity of entities) {
    const type = types.get(entity.type);
    if (type === undefined) fail(entity, `the schema has no object type ${entity.type}`);
    if (!type?.keys.includes(entity.key.field)) fail(entity, `type ${entity.type} needs @key(fields: "${entity.key.field}") to be served through _entities`);
    const fields = (type as ObjectType).fields;
    for (const column of entity.fields) {
      const field = fields.get(column.field);
      if (field === undefined) fail(entity, `column ${column.column} is served as ${entity.type}.${column.field}, which the schema does not have`);
      const problem = columnTypeProblem(column, (field as FieldDefinitionNode).type);
      if (problem !== undefined) fail(entity, `${entity.type}.${column.field} is ${printType((field as FieldDefinitionNode).type)} in the schema, but ${problem}`);
    }
    for (const relation of entity.relations) {
      const on = types.get(relation.on);
      if (on !== undefined && !on.fields.has(relation.by)) fail(entity, `relation ${relation.on}.${relation.field} reads its id from ${relation.on}.${relation.by}, which the schema does not have`);
      if (!types.has(relation.to)) fail(entity, `relation ${relation.on}.${relation.field} points at ${relation.to}, which the schema does not have`);
    }
    checkMutations(entity, types.get('Mutation')?.fields, inputs, fail);
    const served = new Set([
      ...entity.fields.map((f) => f.field),
      ...entities.flatMap((e) => e.relations.filter((r) => r.on === entity.type).map((r) => r.field)),
      ...lists.filter((l) => l.on === entity.type).map((l) => l.field),
    ]);
    for (const name of fields.keys()) {
      if (!served.has(name) && !resolved.has(`${entity.type}.${name}`)) {
        fail(entity, `${entity.type}.${name} is a field of the schema that no column, relation, list or resolver serves`);
      }
    }
    if (entity.roots.one !== undefined) rootField(entity, entity.roots.one, 'id');
    if (entity.roots.many !== undefined) rootField(entity, entity.roots.many, 'ids');
    for (const [field, lookup] of entity.lookups) rootField(entity, lookup.root, field);
    for (const relation of entity.relations) {
      if (!types.get(relation.on)?.fields.has(relation.field)) fail(entity, `relation ${relation.on}.${relation.field} is not a field of the schema`);
    }
  }
  for (const list of lists) {
    const where = list.owner ?? list.member;
    const field = types.get(list.on)?.fields.get(list.field);
    if (field === undefined) fail(where, `list ${list.name} is not a field of the schema`);
    const type = namedOf(field?.type);
    if (list.serve.kind === 'connection') {
      const args = new Set(field?.arguments?.map((a) => a.name.value));
      if (!args.has('first') || !args.has('after')) fail(where, `${list.name} is served as a connection: it must take first and after`);
      if (!types.get(type)?.fields.has('edges') || !types.get(type)?.fields.has('nodes')) {
        fail(where, `${list.name} returns ${type}, which is not a connection (edges, nodes, pageInfo, totalCount)`);
      }
      const node = types.get(namedOf(types.get(type)?.fields.get('nodes')?.type));
      if (node !== types.get(list.member.type)) fail(where, `${type}.nodes must list ${list.member.type}`);
    } else if (type !== list.member.type || field?.type.kind !== Kind.NON_NULL_TYPE || field.type.type.kind !== Kind.LIST_TYPE) {
      fail(where, `${list.name} is served as a plain list: its type must be [${list.member.type}!]!`);
    }
  }
}

/**
 * The generic mutations a definition asks for exist on Mutation with the
 * arguments their resolvers read, and every field of their input types is a
 * column the client may set, of the column's type (nullable in a patch).
 */
function checkMutations(
  entity: EntityDefinition<unknown>,
  mutation: ReadonlyMap<string, FieldDefinitionNode> | undefined,
  inputs: ReadonlyMap<string, ReadonlyMap<string, InputValueDefinitionNode>>,
  fail: (entity: EntityDefinition<unknown>, message: string) => never,
): void {
  const declared: [string | undefined, readonly string[], string | undefined][] = [
    [entity.mutations.create, ['input'], 'input'],
    [entity.mutations.update, ['id', 'patch', 'expectedVersion'], 'patch'],
    [entity.mutations.delete, ['id', 'expectedVersion'], undefined],
  ];
  for (const [name, args, inputArg] of declared) {
    if (name === undefined) continue;
    const field = mutation?.get(name);
    if (field === undefined) fail(entity, `Mutation.${name} is declared as a mutation but the schema has no such field`);
    const given = new Map((field as FieldDefinitionNode).arguments?.map((a) => [a.name.value, a]) ?? []);
    for (const arg of args) if (!given.has(arg) && arg !== 'expectedVersion') fail(entity, `Mutation.${name} must take an argument named "${arg}"`);
    if (inputArg === undefined) continue;
    const typeName = namedOf(given.get(inputArg)?.type);
    const fields = inputs.get(typeName) ?? fail(entity, `Mutation.${name}(${inputArg}:) is of type ${typeName}, which is not an input type of the schema`);
    for (const [fieldName, input] of fields) {
      const column = entity.fields.find((f) => f.field === fieldName);
      if (column === undefined || column === entity.version) fail(entity, `${typeName}.${fieldName} names no column of ${entity.type} a client may set`);
      const col = column as FieldColumn;
      const inner = input.type.kind === Kind.NON_NULL_TYPE ? input.type.type : input.type;
      const json = col.kind === 'json' || col.kind === 'jsonb';
      if (!json && (namedOf(inner) !== col.graphqlType || col.array !== (inner.kind === Kind.LIST_TYPE))) {
        fail(entity, `${typeName}.${fieldName} is ${printType(input.type)}, but column ${col.column} (${col.sqlType}) is served as ${col.graphqlType}`);
      }
    }
  }
}

/** Why a column cannot serve a field of this type, or undefined when it can. */
function columnTypeProblem(column: FieldColumn, type: TypeNode): string | undefined {
  const nonNull = type.kind === Kind.NON_NULL_TYPE;
  if (nonNull && column.nullable) return `column ${column.column} may be NULL (declare the field nullable, or the column NOT NULL)`;
  const inner = type.kind === Kind.NON_NULL_TYPE ? type.type : type;
  // A JSON column serves whatever shape its definition promises (a typed list, an object type, JSON).
  if (column.kind === 'json' || column.kind === 'jsonb') return undefined;
  if (column.array !== (inner.kind === Kind.LIST_TYPE)) return `column ${column.column} is ${column.array ? 'an array' : 'not an array'}`;
  const named = namedOf(inner);
  if (named !== column.graphqlType) return `column ${column.column} (${column.sqlType}) is served as ${column.graphqlType}`;
  return undefined;
}

const printType = (type: TypeNode): string =>
  type.kind === Kind.NAMED_TYPE ? type.name.value : type.kind === Kind.LIST_TYPE ? `[${printType(type.type)}]` : `${printType(type.type)}!`;

/** The type a field's type names, through lists and non-null wrappers. */
function namedOf(type: TypeNode | undefined): string {
  if (type === undefined) return '';
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedOf(type.type);
}
