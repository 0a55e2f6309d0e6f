import type { GraphQLFieldResolver } from 'graphql';
import type { RequestContext } from '../context.js';
import type { EntityDefinition } from '../entities/define.js';
import { entityOf } from '../entities/index.js';
import { ROOT_OWNER, type ListDefinition } from '../entities/lists.js';
import { requireKey, requireKeys } from '../validation.js';
import { createEntity, deleteEntity, updateEntity } from '../services/entity-mutations.js';
import { connection, plainList } from './connections.js';
import { throwIfAnyFailed } from './load-all.js';

type FieldResolver = GraphQLFieldResolver<unknown, RequestContext, Record<string, unknown>>;
/** Resolvers by type and field, as the subgraph schema takes them. */
export type ResolverMap = Record<string, Record<string, unknown>>;

/**
 * The resolvers every cached type gets from its definition alone:
 * - `one(id)` and `many(ids)` root fields (same order as ids, null where none, at most 500);
 * - a root field per lookup (`productBySku(sku)`), through the lookup's verified hint;
 * - `__resolveReference` for `_entities`: a malformed or unknown id resolves to null;
 * - relation fields (`Order.account`, `OrderLine.product`) through the target's loader;
 * - list fields (`Account.orders`, `Product.categories`, `Query.productCatalog`): a
 *   connection or a plain list, through the list's cached window and the members' loader;
 * - the generic mutations a definition asks for (services/entity-mutations.ts).
 */
export function entityResolvers(entities: readonly EntityDefinition<unknown>[], lists: readonly ListDefinition[]): ResolverMap {
  const map: ResolverMap = { Query: {} };
  const add = (type: string, field: string, resolver: FieldResolver): void => {
    const fields = (map[type] ??= {});
    if (field in fields) throw new Error(`Two entity definitions resolve ${type}.${field}`);
    fields[field] = resolver;
  };
  for (const entity of entities) {
    const { one, many } = entity.roots;
    if (one !== undefined) add('Query', one, (_, args, { loaders }) => loaders.of(entity).load(requireKey(entity, args['id'] as string)));
    if (many !== undefined) {
      add('Query', many, async (_, args, { loaders }) => throwIfAnyFailed(await loaders.of(entity).loadMany(requireKeys(entity, args['ids'] as string[]))));
    }
    for (const [field, lookup] of entity.lookups) {
      add('Query', lookup.root, (_, args, { loaders }) => loaders.byLookup(entity, field, lookup.validate(args[field] as string, field)));
    }
    const keyField = entity.key.field;
    (map[entity.type] ??= {}).__resolveReference = (ref: Readonly<Record<string, unknown>>, { loaders }: RequestContext) => {
      // A representation names the entity by its @key field; a malformed or unknown key resolves to null.
      const raw = Object.hasOwn(ref, keyField) ? ref[keyField] : undefined;
      const id = typeof raw === 'string' || typeof raw === 'number' ? entity.parseKey(String(raw)) : undefined;
      return id === undefined ? null : loaders.of(entity).load(id);
    };
    for (const relation of entity.relations) {
      const target = entityOf(relation.to) as EntityDefinition<unknown>;
      add(relation.on, relation.field, (parent, _, { loaders }) => {
        const value = (parent as Record<string, unknown>)[relation.by];
        // A nullable foreign key that holds NULL points at nothing.
        return value === null || value === undefined ? null : loaders.of(target).load(String(value));
      });
    }
  }
  for (const entity of entities) {
    const { create, update, delete: remove } = entity.mutations;
    if (create !== undefined) add('Mutation', create, (_, args, { writes }) => createEntity(writes, entity, args['input'] as Record<string, unknown>));
    if (update !== undefined) {
      add('Mutation', update, (_, args, { writes }) =>
        updateEntity(writes, entity, args['id'] as string, args['patch'] as Record<string, unknown>, args['expectedVersion'] as number | null | undefined),
      );
    }
    if (remove !== undefined) {
      add('Mutation', remove, (_, args, { writes }) => deleteEntity(writes, entity, lists, args['id'] as string, args['expectedVersion'] as number | null | undefined));
    }
  }
  for (const list of lists) {
    const ownerOf = (parent: unknown): string =>
      list.owner === undefined ? ROOT_OWNER : String((parent as Record<string, unknown>)[list.owner.key.field]);
    const { serve } = list;
    add(
      list.on,
      list.field,
      serve.kind === 'connection'
        ? (parent, args, context) => connection(list, ownerOf(parent), args, context)
        : (parent, _, context) => plainList(list, ownerOf(parent), serve.max, context),
    );
  }
  return map;
}
