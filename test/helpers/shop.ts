import { dataOf, uniqueSku, type TestApp } from './app.js';

/** Rows made through the API, so that every list they join is kept in step (tests never write around it unless that is the point). */

export async function createProduct(app: TestApp, fields: { name?: string; stock?: number; priceCents?: number } = {}): Promise<string> {
  const input = { sku: uniqueSku('SHOP'), name: fields.name ?? 'Widget', priceCents: fields.priceCents ?? 100, stock: fields.stock ?? 1000 };
  return dataOf(await app.gql<{ createProduct: { id: string } }>('mutation($i: NewProduct!) { createProduct(input: $i) { id } }', { i: input })).createProduct.id;
}

export async function createAccount(app: TestApp, balanceCents = 10_000_000): Promise<string> {
  return dataOf(await app.gql<{ createAccount: { id: string } }>('mutation($b: Int!) { createAccount(owner: "Shopper", balanceCents: $b) { id } }', { b: balanceCents }))
    .createAccount.id;
}

let slugs = 0;
/** A slug no other test (or run) uses. */
export const uniqueSlug = (label = 'cat'): string => `${label}-${process.pid}-${Date.now().toString(36)}-${(slugs++).toString(36)}`;

export async function createCategory(app: TestApp, name: string): Promise<string> {
  return dataOf(await app.gql<{ createCategory: { id: string } }>('mutation($i: NewCategory!) { createCategory(input: $i) { id } }', { i: { name, slug: uniqueSlug() } }))
    .createCategory.id;
}

export async function placeOrder(app: TestApp, accountId: string, productId: string, quantity = 1): Promise<string> {
  return dataOf(
    await app.gql<{ placeOrder: { id: string } }>('mutation($a: ID!, $p: ID!, $q: Int!) { placeOrder(accountId: $a, lines: [{ productId: $p, quantity: $q }]) { id } }', {
      a: accountId,
      p: productId,
      q: quantity,
    }),
  ).placeOrder.id;
}

export async function categorize(app: TestApp, productId: string, categoryIds: readonly string[]): Promise<void> {
  dataOf(await app.gql('mutation($p: ID!, $c: [ID!]!) { categorize(productId: $p, categoryIds: $c) { id } }', { p: productId, c: categoryIds }));
}

/** The debug view of a response (DEBUG_EXTENSIONS=true and the header): what serving it cost. */
export interface CacheCost {
  readonly hits: number;
  readonly misses: number;
  readonly redisRoundTrips: number;
  readonly sqlStatements: number;
}

export const DEBUG = { 'x-freshgraph-debug': '1' } as const;

export function costOf(response: { extensions?: Record<string, unknown> }): CacheCost {
  const cost = response.extensions?.['cache'];
  if (cost === undefined) throw new Error('the response has no extensions.cache: start the app with DEBUG_EXTENSIONS=true and send DEBUG');
  return cost as CacheCost;
}
