import type { EntityDefinition } from '../entities/define.js';

/** An entity type the fast path serves: by its root fields, and in `_entities`. */
export interface EntityRoute {
  readonly entity: EntityDefinition<unknown>;
  readonly type: string;
  /** Root field taking `id: ID!`, returning the type or null. */
  readonly one: string | undefined;
  /** Root field taking `ids: [ID!]!`, returning a list in id order with nulls. */
  readonly many: string | undefined;
}

/** One route per entity definition: the fast path knows no type by name. */
export function routesOf(entities: readonly EntityDefinition<unknown>[]): EntityRoute[] {
  return entities.map((entity) => ({ entity, type: entity.type, one: entity.roots.one, many: entity.roots.many }));
}
