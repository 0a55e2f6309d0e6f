import type { Knex } from 'knex';
import type { EntityCache } from '../cache/entity-cache.js';
import { ReadThrough, type SourceLoader } from '../cache/read-through.js';
import { entitySources, findByValues, versionedByIds, type EntitySources } from '../db/entity-sql.js';
import { classifyDbError } from '../db/pg-errors.js';
import type { EntityDefinition } from '../entities/define.js';
import { ENTITIES } from '../entities/index.js';
import { serviceUnavailable } from '../errors.js';

/** A secondary lookup's cached value: which entity currently holds the looked-up value. */
export interface LookupTarget {
  readonly id: string;
}

/**
 * Process-wide read paths, one per entity and one per secondary lookup, all
 * derived from the entity definitions. They hold the single-flight state, so
 * they must outlive requests; DataLoaders do not.
 */
export interface Readers {
  of<Row>(entity: EntityDefinition<Row>): ReadThrough<Row>;
  /** The cached `<field value> -> id` hints of a lookup. */
  lookup(entity: EntityDefinition<unknown>, field: string): ReadThrough<LookupTarget>;
  /** The rows holding `value` in `field`, from the database (when a hint turned out wrong). */
  findByValue<Row>(entity: EntityDefinition<Row>, field: string, value: string): Promise<Row[]>;
  /** The same loads, by type name, for the repair worker and the consistency sampler. */
  readonly sources: EntitySources;
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

export function createReaders(
  cache: EntityCache,
  db: Knex,
  entities: readonly EntityDefinition<unknown>[] = ENTITIES,
): Readers {
  const byEntity = new Map<EntityDefinition<unknown>, ReadThrough<unknown>>();
  const byLookup = new Map<string, ReadThrough<LookupTarget>>();
  for (const entity of entities) {
    const load: SourceLoader<unknown> = resilient((ids: readonly string[]) => versionedByIds(db, entity, ids));
    byEntity.set(entity, new ReadThrough({ cache, keyOf: (id) => cache.keys.entity(entity.type, id), load, cacheAbsent: true }));
    for (const field of entity.lookups.keys()) {
      // A hint is only that: it is verified against the (always fresh) entity on every use, so absence is not cached.
      const hints: SourceLoader<LookupTarget> = resilient(async (values: readonly string[]) => {
        const rows = (await findByValues(db, entity, field, values)) as Readonly<Record<string, unknown>>[];
        return new Map(rows.map((row) => [String(row[field]), { version: Number(row['version']), data: { id: String(row['id']) } }]));
      });
      byLookup.set(`${entity.type}.${field}`, new ReadThrough({ cache, keyOf: (value) => cache.keys.lookup(entity.type, field, value), load: hints, cacheAbsent: false }));
    }
  }
  return {
    of<Row>(entity: EntityDefinition<Row>): ReadThrough<Row> {
      const reader = byEntity.get(entity as EntityDefinition<unknown>);
      if (reader === undefined) throw new Error(`${entity.type} is not a registered entity`);
      return reader as ReadThrough<Row>;
    },
    lookup(entity, field) {
      const reader = byLookup.get(`${entity.type}.${field}`);
      if (reader === undefined) throw new Error(`${entity.type}.${field} is not a declared lookup`);
      return reader;
    },
    findByValue: resilient(<Row>(entity: EntityDefinition<Row>, field: string, value: string) => findByValues(db, entity, field, [value])),
    sources: entitySources(db, entities),
  };
}
