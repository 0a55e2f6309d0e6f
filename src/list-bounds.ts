import type { EntityDefinition } from './entities/define.js';
import { ENTITIES, LISTS } from './entities/index.js';
import { CONNECTION_MAX_FIRST, type ListDefinition } from './entities/lists.js';
import type { ListBounds } from './plugins/cost-limit.js';

/**
 * How long the schema's lists may be where no argument says so, for the cost
 * limit (plugins/cost-limit.ts), which refuses to start on a schema with a list
 * field missing here that takes no list argument. Derived from the entity
 * definitions, so a new list cannot escape the cost: a plain list's declared
 * maximum (`Product.categories`), a JSON array column's `maxItems`
 * (`Order.lines`), a connection's largest page. Each bound is one the write
 * path keeps (`categorize` sets at most 50 categories; an order is placed with
 * at most 100 lines and never changes).
 */
export function listBoundsOf(entities: readonly EntityDefinition<unknown>[], lists: readonly ListDefinition[]): ListBounds {
  const fields = new Map<string, number>();
  for (const entity of entities) {
    for (const column of entity.fields) if (column.maxItems !== undefined) fields.set(`${entity.type}.${column.field}`, column.maxItems);
  }
  for (const list of lists) if (list.serve.kind === 'list') fields.set(`${list.on}.${list.field}`, list.serve.max);
  return { fields, maxPage: CONNECTION_MAX_FIRST };
}

export const LIST_BOUNDS: ListBounds = listBoundsOf(ENTITIES, LISTS);
