import type { Knex } from 'knex';
import type { CacheEngine } from '../cache/engine.js';
import type { ListWindow } from '../cache/list-window.js';
import { DirectRead, ReadThrough, type Reader, type SourceLoader } from '../cache/read-through.js';
import { cachedKinds, entityKey, listKey, lookupKey, type CachedKinds } from '../cached-values.js';
import { findByValues, versionedByIds } from '../db/entity-sql.js';
import { loadListWindows, loadPages, type PageRequest } from '../db/list-sql.js';
import { classifyDbError } from '../db/pg-errors.js';
import type { EntityDefinition } from '../entities/define.js';
import { ENTITIES, LISTS } from '../entities/index.js';
import type { ListDefinition } from '../entities/lists.js';
import { entityShape, listShape, lookupKind, lookupShape } from '../entities/shapes.js';
import { serviceUnavailable } from '../errors.js';

/** A secondary lookup's cached value: which entity currently holds the looked-up value. */
export interface LookupTarget {
  readonly id: string;
}

/**
 * Process-wide read paths, one per entity, per secondary lookup and per list,
 * all derived from the definitions. They hold the single-flight state, so they
 * must outlive requests; DataLoaders do not.
 */
export interface Readers {
  of<Row>(entity: EntityDefinition<Row>): Reader<Row>;
  /** The cached `<field value> -> id` hints of a lookup. */
  lookup(entity: EntityDefinition<unknown>, field: string): Reader<LookupTarget>;
  /** The cached windows of a list, by owner key (ROOT_OWNER for a root list). */
  list(list: ListDefinition): Reader<ListWindow>;
  /** The rows holding `value` in `field`, from the database (when a hint turned out wrong). */
  findByValue<Row>(entity: EntityDefinition<Row>, field: string, value: string): Promise<Row[]>;
  /** Keyset pages of a list from the database (pages past the cached window), in one statement. */
  pages(list: ListDefinition, requests: readonly PageRequest[]): Promise<string[][]>;
  /** Every kind of cached value by name, for the repair worker and the consistency sampler. */
  readonly kinds: CachedKinds;
}

/**
 * Reads are idempotent: one that lost its connection (a restarted database, a
 * terminated backend) is tried once more on a fresh one. A database that stays
 * unreachable is reported as SERVICE_UNAVAILABLE rather than an internal error.
 */
function resilient<A extends unknown[], R>(load: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await load(...args);
    } catch (first) {
      const failure = classifyDbError(first);
      if (failure.kind !== 'unavailable') throw first;
      if (failure.connectionLost) {
        try {
          return await load(...args);
        } catch (second) {
          if (classifyDbError(second).kind !== 'unavailable') throw second;
          throw serviceUnavailable('The database is unavailable; try again shortly', second);
        }
      }
      throw serviceUnavailable('The database is unavailable; try again shortly', first);
    }
  };
}

export interface ReadersOptions {
  readonly cache: CacheEngine;
  readonly db: Knex;
  /** False for CACHE_MODE=off: every read goes straight to the database. Chosen here, once. @default true */
  readonly cached?: boolean;
  /** Members a cached list holds (CACHE_LIST_WINDOW). @default 200 */
  readonly listWindow?: number;
  /** @default ENTITIES */
  readonly entities?: readonly EntityDefinition<unknown>[];
  /** @default LISTS */
  readonly lists?: readonly ListDefinition[];
  /** Whether this instance's shape of a kind of value (shapes.ts) may fill the cache now. @default always */
  readonly fills?: (kind: string) => boolean;
}

export function createReaders(options: ReadersOptions): Readers {
  const { cache, db } = options;
  const entities = options.entities ?? ENTITIES;
  const lists = options.lists ?? LISTS;
  const listWindow = options.listWindow ?? 200;
  const cached = options.cached ?? true;
  const fillsOf = options.fills;
  const readerOf = <T>(kind: string, shape: string, keyFor: (id: string) => string, load: SourceLoader<T>): Reader<T> =>
    cached
      ? new ReadThrough({ cache, keyFor, load, shape, ...(fillsOf === undefined ? {} : { fills: () => fillsOf(kind) }) })
      : new DirectRead(load, cache.meter);

  const byEntity = new Map<EntityDefinition<unknown>, Reader<unknown>>();
  const byLookup = new Map<string, Reader<LookupTarget>>();
  const byList = new Map<ListDefinition, Reader<ListWindow>>();
  for (const entity of entities) {
    byEntity.set(
      entity,
      readerOf(entity.type, entityShape(entity), (id) => entityKey(cache.keys, entity, id), resilient((ids: readonly string[]) => versionedByIds(db, entity, ids))),
    );
    for (const field of entity.lookups.keys()) {
      // A hint is only that: it is verified against the (always fresh) entity on every use.
      const hints: SourceLoader<LookupTarget> = resilient(async (values: readonly string[]) => {
        const rows = (await findByValues(db, entity, field, values)) as Readonly<Record<string, unknown>>[];
        return new Map(rows.map((row) => [String(row[field]), { version: Number(row[entity.version.field]), data: { id: String(row[entity.key.field]) } }]));
      });
      byLookup.set(`${entity.type}.${field}`, readerOf(lookupKind(entity, field), lookupShape(entity, field), (value) => lookupKey(cache.keys, entity, field, value), hints));
    }
  }
  for (const list of lists) {
    byList.set(
      list,
      readerOf(list.name, listShape(list), (owner) => listKey(cache.keys, list, owner), resilient((owners: readonly string[]) => loadListWindows(db, list, owners, listWindow))),
    );
  }
  return {
    of<Row>(entity: EntityDefinition<Row>): Reader<Row> {
      const reader = byEntity.get(entity as EntityDefinition<unknown>);
      if (reader === undefined) throw new Error(`${entity.type} is not a registered entity`);
      return reader as Reader<Row>;
    },
    lookup(entity, field) {
      const reader = byLookup.get(`${entity.type}.${field}`);
      if (reader === undefined) throw new Error(`${entity.type}.${field} is not a declared lookup`);
      return reader;
    },
    list(list) {
      const reader = byList.get(list);
      if (reader === undefined) throw new Error(`${list.name} is not a declared list`);
      return reader;
    },
    findByValue: resilient(<Row>(entity: EntityDefinition<Row>, field: string, value: string) => findByValues(db, entity, field, [value])),
    pages: resilient((list: ListDefinition, requests: readonly PageRequest[]) => loadPages(db, list, requests)),
    kinds: cachedKinds({ keys: cache.keys, db, entities, lists, listWindow }),
  };
}
