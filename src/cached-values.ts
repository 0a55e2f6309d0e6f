import type { KeySpace } from './cache/keys.js';
import { versionedByIds, type Queryable } from './db/entity-sql.js';
import { loadListWindows } from './db/list-sql.js';
import type { EntityDefinition } from './entities/define.js';
import { ROOT_OWNER, type ListDefinition } from './entities/lists.js';
import { entityShape, listShape } from './entities/shapes.js';

/**
 * Every kind of value the cache holds for the definitions, by the name the
 * outbox uses for it: an entity type (`Product`, its rows by key) or a list
 * (`Account.orders` by owner, `Query.productCatalog` with owner ''). Each says
 * where a value lives in the cache and how to load it, with its committed
 * version, from the database: what the repair worker and the consistency
 * sampler need, and what the read path and the write path agree on.
 */
export interface CachedKind {
  readonly name: string;
  /** The shape its values are written in (src/entities/shapes.ts). */
  readonly shape: string;
  keyOf(id: string): string;
  /** The current values of `ids` with their versions; inside `db` (a transaction) when given. Missing ids are absent. */
  load(ids: readonly string[], db?: Queryable): Promise<ReadonlyMap<string, { readonly version: number; readonly data: unknown }>>;
  /** Cache keys that a value's current state makes stale (its lookup values' hints); none for lists. */
  hintsOf(data: unknown): string[];
}

export type CachedKinds = ReadonlyMap<string, CachedKind>;

export const entityKey = (keys: KeySpace, entity: EntityDefinition<unknown>, id: string): string => keys.entity(entity.type, id);

export const lookupKey = (keys: KeySpace, entity: EntityDefinition<unknown>, field: string, value: string): string =>
  keys.lookup(entity.type, field, value);

/** A list's key: under its owner's hash tag, or its member type's for a root list. */
export function listKey(keys: KeySpace, list: ListDefinition, owner: string): string {
  return list.owner === undefined ? keys.list(list.member.type, undefined, list.field) : keys.list(list.owner.type, owner, list.field);
}

export interface CachedKindsOptions {
  readonly keys: KeySpace;
  readonly db: Queryable;
  readonly entities: readonly EntityDefinition<unknown>[];
  readonly lists: readonly ListDefinition[];
  /** Members a cached list holds (CACHE_LIST_WINDOW). */
  readonly listWindow: number;
}

export function cachedKinds(options: CachedKindsOptions): CachedKinds {
  const { keys, db, listWindow } = options;
  const kinds = new Map<string, CachedKind>();
  for (const entity of options.entities) {
    kinds.set(entity.type, {
      name: entity.type,
      shape: entityShape(entity),
      keyOf: (id) => entityKey(keys, entity, id),
      load: (ids, trx) => versionedByIds(trx ?? db, entity, ids),
      hintsOf(data) {
        if (entity.lookups.size === 0 || data === null || typeof data !== 'object') return [];
        const row = data as Readonly<Record<string, unknown>>;
        return [...entity.lookups.keys()].flatMap((field) => (typeof row[field] === 'string' ? [lookupKey(keys, entity, field, row[field])] : []));
      },
    });
  }
  for (const list of options.lists) {
    kinds.set(list.name, {
      name: list.name,
      shape: listShape(list),
      keyOf: (owner) => listKey(keys, list, owner),
      load: (owners, trx) => loadListWindows(trx ?? db, list, list.owner === undefined ? owners.map(() => ROOT_OWNER) : owners, listWindow),
      hintsOf: () => [],
    });
  }
  return kinds;
}
