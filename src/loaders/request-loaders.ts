import DataLoader from 'dataloader';
import type { CacheEngine } from '../cache/engine.js';
import type { ListWindow } from '../cache/list-window.js';
import type { ReadResult } from '../cache/read-through.js';
import { newRequestStats, type RequestCacheStats } from '../cache/stats.js';
import { lookupKey } from '../cached-values.js';
import type { EntityChange } from '../db/change-scope.js';
import type { PageRequest } from '../db/list-sql.js';
import type { EntityDefinition } from '../entities/define.js';
import { entityOf, listNamed } from '../entities/index.js';
import type { ListDefinition } from '../entities/lists.js';
import { MAX_LIST_LENGTH } from '../validation.js';
import type { Readers } from './readers.js';

/** A list's new window after a mutation, as the write path committed it. */
export interface ListPrime {
  readonly list: string;
  readonly owner: string;
  readonly window: ListWindow;
}

/**
 * The per-request read side: one DataLoader per entity type, per lookup and per
 * list, created on first use, batching every load of one tick into one cache
 * round trip (and the misses into one database statement).
 */
export class RequestLoaders {
  readonly stats: RequestCacheStats = newRequestStats();
  // Allocated on first use: most requests read one type.
  private loaders: Map<EntityDefinition<unknown>, DataLoader<string, unknown>> | undefined;
  private lookups: Map<string, DataLoader<string, { readonly id: string } | null>> | undefined;
  private lists: Map<ListDefinition, DataLoader<string, ListWindow | null>> | undefined;
  private pageLoaders: Map<ListDefinition, DataLoader<PageRequest, string[], string>> | undefined;

  constructor(
    private readonly readers: Readers,
    private readonly cache: CacheEngine,
  ) {}

  /** The request's loader of `entity`: null where no row exists. */
  of<Row>(entity: EntityDefinition<Row>): DataLoader<string, Row | null> {
    this.loaders ??= new Map();
    let loader = this.loaders.get(entity as EntityDefinition<unknown>);
    if (loader === undefined) {
      const reader = this.readers.of(entity);
      loader = new DataLoader<string, Row | null>((ids) => reader.loadMany(ids, this.stats), { maxBatchSize: MAX_LIST_LENGTH }) as DataLoader<string, unknown>;
      this.loaders.set(entity as EntityDefinition<unknown>, loader);
    }
    return loader as DataLoader<string, Row | null>;
  }

  /**
   * One read of `ids` through the same reader as the loaders (same cache, same
   * freshness rules, counted in `stats`), without a DataLoader's per-key promise and
   * per-request cache: for a request that reads a list exactly once (the read fast path).
   */
  read<Row>(entity: EntityDefinition<Row>, ids: readonly string[]): Promise<ReadResult<Row>[]> {
    return this.readers.of(entity).loadMany(ids, this.stats);
  }

  /** The request's loader of a list's cached windows, by owner key. */
  list(list: ListDefinition): DataLoader<string, ListWindow | null> {
    this.lists ??= new Map();
    let loader = this.lists.get(list);
    if (loader === undefined) {
      const reader = this.readers.list(list);
      loader = new DataLoader<string, ListWindow | null>((owners) => reader.loadMany(owners, this.stats), { maxBatchSize: MAX_LIST_LENGTH });
      this.lists.set(list, loader);
    }
    return loader;
  }

  /** The request's loader of keyset pages from the database: every page of one tick in one statement. */
  pages(list: ListDefinition): DataLoader<PageRequest, string[], string> {
    this.pageLoaders ??= new Map();
    let loader = this.pageLoaders.get(list);
    if (loader === undefined) {
      loader = new DataLoader<PageRequest, string[], string>(
        async (requests) => {
          this.cache.meter.sourceLoad(this.stats);
          return this.readers.pages(list, requests);
        },
        { cacheKeyFn: (r) => JSON.stringify([r.owner, r.after?.id ?? null, r.after?.values ?? null, r.limit]), maxBatchSize: MAX_LIST_LENGTH },
      );
      this.pageLoaders.set(list, loader);
    }
    return loader;
  }

  /**
   * The row holding `value` in the lookup field `field` now. The cached
   * `value -> id` hint is only that: the row it names is read through its own
   * (always fresh) entry and must still hold the value, or the database answers.
   */
  async byLookup<Row>(entity: EntityDefinition<Row>, field: string, value: string): Promise<Row | null> {
    this.lookups ??= new Map();
    const name = `${entity.type}.${field}`;
    let hints = this.lookups.get(name);
    if (hints === undefined) {
      const reader = this.readers.lookup(entity as EntityDefinition<unknown>, field);
      hints = new DataLoader((values) => reader.loadMany(values, this.stats), { maxBatchSize: MAX_LIST_LENGTH });
      this.lookups.set(name, hints);
    }
    const target = await hints.load(value);
    if (target === null) return null;
    const row = await this.of(entity).load(target.id);
    if (row !== null && (row as Record<string, unknown>)[field] === value) return row;
    void this.cache.invalidate([lookupKey(this.cache.keys, entity as EntityDefinition<unknown>, field, value)]);
    this.cache.meter.sourceLoad(this.stats);
    const [fresh] = await this.readers.findByValue(entity, field, value);
    return fresh ?? null;
  }

  /** After a mutation: later reads in this request see exactly what was committed. */
  prime(changes: readonly EntityChange[], lists: readonly ListPrime[] = []): void {
    for (const change of changes) {
      const entity = entityOf(change.type);
      if (entity !== undefined) this.of(entity).clear(change.id).prime(change.id, change.data as Record<string, unknown> | null);
    }
    for (const { list: name, owner, window } of lists) {
      const list = listNamed(name);
      if (list !== undefined) this.list(list).clear(owner).prime(owner, window);
    }
  }
}
