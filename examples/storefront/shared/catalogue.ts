/**
 * What the page shows, served next to it as `/storefront.json`. The API has no
 * "list all products" query (reads are by id, so they are cache reads), so the
 * server that serves the page says which rows to show.
 */
export interface Catalogue {
  /** Where the page sends GraphQL requests. @default "/graphql" (same origin, proxied) */
  readonly graphqlUrl?: string;
  readonly productIds: readonly string[];
  /** For the order section (an account picker), once `placeOrder` exists. */
  readonly accountIds: readonly string[];
}

export const CATALOGUE_PATH = '/storefront.json';
