import DataLoader from 'dataloader';
import type { EntityCache } from '../cache/entity-cache.js';
import type { ReadResult, ReadThrough } from '../cache/read-through.js';
import { newRequestStats, type RequestCacheStats } from '../cache/stats.js';
import type { AccountRow } from '../db/accounts-repository.js';
import { PRODUCT, type ProductRow, type ProductsRepository } from '../db/products-repository.js';
import { MAX_LIST_LENGTH } from '../services/validation.js';
import type { LookupTarget, Readers } from './readers.js';

/**
 * The per-request read side: one DataLoader per entity, created on first use,
 * batching every load of one tick into one cache round trip.
 */
export class RequestLoaders {
  readonly stats: RequestCacheStats = newRequestStats();
  private productLoader: DataLoader<string, ProductRow | null> | undefined;
  private accountLoader: DataLoader<string, AccountRow | null> | undefined;
  private skuLoader: DataLoader<string, LookupTarget | null> | undefined;

  constructor(
    private readonly readers: Readers,
    private readonly cache: EntityCache,
    private readonly productsRepo: ProductsRepository,
  ) {}

  get products(): DataLoader<string, ProductRow | null> {
    return (this.productLoader ??= this.loaderFor(this.readers.products));
  }

  get accounts(): DataLoader<string, AccountRow | null> {
    return (this.accountLoader ??= this.loaderFor(this.readers.accounts));
  }

  /**
   * The product holding `sku` now. The cached sku -> id lookup is a hint; the
   * product it names is read through its own (always fresh) entry and must
   * still carry that sku, or the database answers instead.
   */
  async productBySku(sku: string): Promise<ProductRow | null> {
    this.skuLoader ??= this.loaderFor(this.readers.productIdsBySku);
    const target = await this.skuLoader.load(sku);
    if (target === null) return null;
    const product = await this.products.load(target.id);
    if (product !== null && product.sku === sku) return product;
    void this.cache.invalidate([this.cache.keys.lookup(PRODUCT, 'sku', sku)]);
    this.stats.sourceLoads++;
    const [fresh] = await this.productsRepo.findBySkus([sku]);
    return fresh ?? null;
  }

  /**
   * One read of `ids` through the same ReadThrough as the loaders (same cache, same
   * freshness rules, counted in `stats`), without a DataLoader's per-key promise and
   * per-request cache: for a request that reads a list exactly once (the read fast path).
   */
  readProducts(ids: readonly string[]): Promise<ReadResult<ProductRow>[]> {
    return this.readers.products.loadMany(ids, this.stats);
  }

  readAccounts(ids: readonly string[]): Promise<ReadResult<AccountRow>[]> {
    return this.readers.accounts.loadMany(ids, this.stats);
  }

  /** After a mutation: later reads in this request see exactly what was committed. */
  primeProduct(row: ProductRow): void {
    this.products.clear(row.id).prime(row.id, row);
  }

  primeDeletedProduct(id: string): void {
    this.products.clear(id).prime(id, null);
  }

  primeAccount(row: AccountRow): void {
    this.accounts.clear(row.id).prime(row.id, row);
  }

  private loaderFor<T>(reader: ReadThrough<T>): DataLoader<string, T | null> {
    return new DataLoader<string, T | null>(
      async (ids): Promise<ReadResult<T>[]> => reader.loadMany(ids, this.stats),
      { maxBatchSize: MAX_LIST_LENGTH },
    );
  }
}
