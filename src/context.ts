import type { EntityCache } from './cache/entity-cache.js';
import type { ProductsRepository } from './db/products-repository.js';
import type { Readers } from './loaders/readers.js';
import { RequestLoaders } from './loaders/request-loaders.js';
import type { AccountsService } from './services/accounts-service.js';
import type { ProductsService } from './services/products-service.js';

/**
 * What the HTTP layer and the plugins learn about one request, for its log line,
 * its metrics and the debug view. Filled in as the request goes; never read by resolvers.
 */
export interface RequestMeta {
  /** From `x-request-id`, or generated; echoed in the response. */
  readonly id: string;
  /** The client asked for `extensions.cache` (`x-freshgraph-debug: 1`) and the server allows it. */
  readonly debug: boolean;
  operationName: string | undefined;
  operationType: 'query' | 'mutation' | 'subscription' | undefined;
  /** `extensions.code` of the errors sent, only when there were any. */
  errorCodes: string[] | undefined;
}

export const newRequestMeta = (id: string, debug = false): RequestMeta => ({
  id,
  debug,
  operationName: undefined,
  operationType: undefined,
  errorCodes: undefined,
});

/** What every resolver receives: fresh loaders for this request, and the shared services. */
export interface RequestContext {
  readonly meta: RequestMeta;
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

/** `meta` comes from the HTTP layer; contexts made elsewhere (tests, scripts) get an anonymous one. */
export function createContextFactory(deps: ContextDeps): (meta?: RequestMeta) => RequestContext {
  return (meta = newRequestMeta('internal')) => ({
    meta,
    loaders: new RequestLoaders(deps.readers, deps.cache, deps.productsRepo),
    products: deps.products,
    accounts: deps.accounts,
  });
}
