import { account } from './account.js';
import { category } from './category.js';
import { EntityDefinitionError, type EntityDefinition, type RowOf } from './define.js';
import { resolveLists, type ListDefinition } from './lists.js';
import { order } from './order.js';
import { product } from './product.js';

/**
 * Every cached type. This list is the one place a new type is declared: the
 * repository reads, the loaders, the by-id and lookup resolvers, `_entities`,
 * the lists and their connections, the fast path, the repair worker and the
 * consistency sampler all read it.
 */
export const ENTITIES = [product, account, order, category] as const;

const byType = new Map<string, EntityDefinition>(ENTITIES.map((e) => [e.type, e as EntityDefinition]));

for (const entity of ENTITIES) {
  for (const relation of entity.relations) {
    if (!byType.has(relation.to)) {
      throw new EntityDefinitionError(`entity ${entity.type}: relation ${relation.on}.${relation.field} points at ${relation.to}, which is not in ENTITIES`);
    }
  }
}
if (byType.size !== ENTITIES.length) throw new EntityDefinitionError('two entities declare the same type');

/** Every to-many relation and root list the entities declare, resolved (lists.ts). */
export const LISTS: readonly ListDefinition[] = resolveLists(ENTITIES);

const listsByName = new Map(LISTS.map((l) => [l.name, l]));

/** A list by its name (`Account.orders`), as in the outbox. */
export function listNamed(name: string): ListDefinition | undefined {
  return listsByName.get(name);
}

/** The definition of a cached type, by GraphQL type name (as in cache keys and the outbox). */
export function entityOf(type: string): EntityDefinition | undefined {
  return byType.get(type);
}

type Entities = (typeof ENTITIES)[number];

/** Row types by GraphQL type name, e.g. `RowsByType['Order']`. */
export type RowsByType = { [E in Entities as E['type']]: RowOf<E> };

/**
 * What resolvers receive for a GraphQL type: the entity's row for a cached type,
 * the generated type otherwise, with the entities in its fields mapped the same way
 * (`Transfer.from` is an account's row). codegen.yml uses it as the default mapper, so a
 * new entity needs no codegen configuration of its own.
 */
export type ModelOf<T> = T extends { __typename?: infer N }
  ? N extends keyof RowsByType
    ? RowsByType[N]
    : { [K in keyof T]: ModelOf<T[K]> }
  : T extends readonly (infer E)[]
    ? ModelOf<E>[]
    : T;

export { account, category, order, product };
export type { AccountRow } from './account.js';
export type { CategoryRow } from './category.js';
export type { OrderLineRow, OrderRow } from './order.js';
export type { ProductRow } from './product.js';
