import type { EntityCache } from '../cache/entity-cache.js';
import { ReadThrough, type SourceLoader, type SourceRecord } from '../cache/read-through.js';
import { ACCOUNT, type AccountRow, type AccountsRepository } from '../db/accounts-repository.js';
import { classifyDbError } from '../db/pg-errors.js';
import { PRODUCT, type ProductRow, type ProductsRepository } from '../db/products-repository.js';
import { serviceUnavailable } from '../errors.js';
import type { EntitySource, EntitySources } from '../services/entity-sources.js';

/** A secondary lookup's cached value: which entity currently holds the looked-up value. */
export interface LookupTarget {
  readonly id: string;
}

/**
 * Process-wide read paths, one per entity (and per secondary lookup). They hold
 * the single-flight state, so they must outlive requests; DataLoaders do not.
 */
export interface Readers {
  readonly products: ReadThrough<ProductRow>;
  readonly productIdsBySku: ReadThrough<LookupTarget>;
  readonly accounts: ReadThrough<AccountRow>;
  /** The same loads, by entity name, for the repair worker and the consistency sampler. */
  readonly sources: EntitySources;
}

const byId = <T extends { id: string; version: number }>(rows: readonly T[]) =>
  new Map<string, SourceRecord<T>>(rows.map((row) => [row.id, { version: row.version, data: row }]));

/**
 * Reads are idempotent: one that lost its connection (a restarted database, a
 * terminated backend) is tried once more on a fresh one. A database that stays
 * unreachable is reported as SERVICE_UNAVAILABLE rather than an internal error.
 */
function resilient<T>(load: SourceLoader<T>): SourceLoader<T> {
  return async (ids) => {
    try {
      return await load(ids);
    } catch (first) {
      const failure = classifyDbError(first);
      if (failure.kind !== 'unavailable') throw first;
      if (failure.connectionLost) {
        try {
          return await load(ids);
        } catch (second) {
          if (classifyDbError(second).kind !== 'unavailable') throw second;
          throw serviceUnavailable('The database is unavailable; try again shortly', second);
        }
      }
      throw serviceUnavailable('The database is unavailable; try again shortly', first);
    }
  };
}

export function createReaders(cache: EntityCache, products: ProductsRepository, accounts: AccountsRepository): Readers {
  const loadProducts = resilient(async (ids) => byId(await products.findByIds(ids)));
  const loadAccounts = resilient(async (ids) => byId(await accounts.findByIds(ids)));
  const sources: EntitySources = new Map<string, EntitySource>([
    [PRODUCT, async (ids, trx) => byId(await products.findByIds(ids, trx))],
    [ACCOUNT, async (ids, trx) => byId(await accounts.findByIds(ids, trx))],
  ]);
  return {
    products: new ReadThrough<ProductRow>({
      cache,
      keyOf: (id) => cache.keys.entity(PRODUCT, id),
      load: loadProducts,
      cacheAbsent: true,
    }),
    // A lookup is only a hint: it is verified against the (always fresh) entity on every use.
    productIdsBySku: new ReadThrough<LookupTarget>({
      cache,
      keyOf: (sku) => cache.keys.lookup(PRODUCT, 'sku', sku),
      load: resilient(
        async (skus) => new Map((await products.findBySkus(skus)).map((row) => [row.sku, { version: row.version, data: { id: row.id } }])),
      ),
      cacheAbsent: false,
    }),
    accounts: new ReadThrough<AccountRow>({
      cache,
      keyOf: (id) => cache.keys.entity(ACCOUNT, id),
      load: loadAccounts,
      cacheAbsent: true,
    }),
    sources,
  };
}
