import { Kind, type DocumentNode, type FieldDefinitionNode } from 'graphql';
import { EntityDefinitionError, type EntityDefinition } from './entities/define.js';

/**
 * Checks the entity definitions against the SDL in schema/ at start-up, so a
 * definition and its GraphQL type cannot drift apart silently: each entity is
 * an object type with `@key(fields: "id")`, its root fields exist on Query
 * with the arguments the derived resolvers read, and every relation field exists.
 */
export function checkEntitiesAgainstSchema(entities: readonly EntityDefinition<unknown>[], document: DocumentNode): void {
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
}
