import type { EntityCache } from './cache/entity-cache.js';
import type { ProductsRepository } from './db/products-repository.js';
import type { Readers } from './loaders/readers.js';
import { RequestLoaders } from './loaders/request-loaders.js';
import type { AccountsService } from './services/accounts-service.js';
import type { ProductsService } from './services/products-service.js';

/** What every resolver receives: fresh loaders for this request, and the shared services. */
export interface RequestContext {
  readonly loaders: RequestLoaders;
  readonly products: ProductsService;
  readonly accounts: AccountsService;
}

export interface ContextDeps {
  readonly readers: Readers;
  readonly cache: EntityCache;
  readonly productsRepo: ProductsRepository;
  readonly products: ProductsService;
  readonly accounts: AccountsService;
}

export function createContextFactory(deps: ContextDeps): () => RequestContext {
  return () => ({
    loaders: new RequestLoaders(deps.readers, deps.cache, deps.productsRepo),
    products: deps.products,
    accounts: deps.accounts,
  });
}
