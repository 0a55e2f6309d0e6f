/**
 * What the page shows, served next to it as `/storefront.json`. `productCatalog`
 * lists every product of the database (in a shared one, other programs' too) and
 * nothing lists every category, so the server that serves the page says which
 * rows to show; all of them are read by id, through the cache.
 */
export interface Catalogue {
  /** Where the page sends GraphQL requests. @default "/graphql" (same origin, proxied) */
  readonly graphqlUrl?: string;
  readonly productIds: readonly string[];
  /** The categories the page can filter by, in this order. */
  readonly categoryIds: readonly string[];
  /** The accounts shown, and those the cart can pay with. */
  readonly accountIds: readonly string[];
}

export const CATALOGUE_PATH = '/storefront.json';
