import { Kind, type DocumentNode, type FieldDefinitionNode, type TypeNode } from 'graphql';
import { EntityDefinitionError, type EntityDefinition } from './entities/define.js';
import type { ListDefinition } from './entities/lists.js';

/**
 * Checks the entity definitions against the SDL in schema/ at start-up, so a
 * definition and its GraphQL type cannot drift apart silently: each entity is
 * an object type with `@key(fields: "id")`, its root fields exist on Query
 * with the arguments the derived resolvers read, every relation field exists,
 * and every list field has the shape it is served in (a connection taking
 * `first` and `after`, or a plain non-null list of its members).
 */
export function checkEntitiesAgainstSchema(entities: readonly EntityDefinition<unknown>[], document: DocumentNode, lists: readonly ListDefinition[] = []): void {
  type ObjectType = { fields: Map<string, FieldDefinitionNode>; keys: string[] };
  const types = new Map<string, ObjectType>();
  for (const def of document.definitions) {
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
    if (!type?.keys.includes('id')) fail(entity, `type ${entity.type} needs @key(fields: "id") to be served through _entities`);
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

/** The type a field's type names, through lists and non-null wrappers. */
function namedOf(type: TypeNode | undefined): string {
  if (type === undefined) return '';
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedOf(type.type);
}
