/**
 * What the page shows, served next to it as `/storefront.json`. The API has no
 * "list all products" query (reads are by id, so they are cache reads), so the
 * server that serves the page says which rows to show.
 */
export interface Catalogue {
  /** Where the page sends GraphQL requests. @default "/graphql" (same origin, proxied) */
  readonly graphqlUrl?: string;
  readonly productIds: readonly string[];
  /** The accounts shown, and those the cart can pay with. */
  readonly accountIds: readonly string[];
}

export const CATALOGUE_PATH = '/storefront.json';
