import type { EntityCache } from '../cache/entity-cache.js';
import { ReadThrough, type SourceRecord } from '../cache/read-through.js';
import { ACCOUNT, type AccountRow, type AccountsRepository } from '../db/accounts-repository.js';
import { PRODUCT, type ProductRow, type ProductsRepository } from '../db/products-repository.js';

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
}

export function createReaders(cache: EntityCache, products: ProductsRepository, accounts: AccountsRepository): Readers {
  const byId = <T extends { id: string; version: number }>(rows: readonly T[]) =>
    new Map<string, SourceRecord<T>>(rows.map((row) => [row.id, { version: row.version, data: row }]));
  return {
    products: new ReadThrough<ProductRow>({
      cache,
      keyOf: (id) => cache.keys.entity(PRODUCT, id),
      load: async (ids) => byId(await products.findByIds(ids)),
      cacheAbsent: true,
    }),
    // A lookup is only a hint: it is verified against the (always fresh) entity on every use.
    productIdsBySku: new ReadThrough<LookupTarget>({
      cache,
      keyOf: (sku) => cache.keys.lookup(PRODUCT, 'sku', sku),
      load: async (skus) =>
        new Map((await products.findBySkus(skus)).map((row) => [row.sku, { version: row.version, data: { id: row.id } }])),
      cacheAbsent: false,
    }),
    accounts: new ReadThrough<AccountRow>({
      cache,
      keyOf: (id) => cache.keys.entity(ACCOUNT, id),
      load: async (ids) => byId(await accounts.findByIds(ids)),
      cacheAbsent: true,
    }),
  };
}
