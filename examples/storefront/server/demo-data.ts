import type { Knex } from 'knex';
import type { Catalogue } from '../shared/catalogue.js';

/** The demo catalogue; one product is sold out, so that −1 or an order of it shows INSUFFICIENT_STOCK. */
export const DEMO_PRODUCTS = [
  { sku: 'SF-LAMP', name: 'Desk lamp', priceCents: 3900, stock: 12 },
  { sku: 'SF-MUG', name: 'Enamel mug', priceCents: 1450, stock: 40 },
  { sku: 'SF-NOTEBOOK', name: 'Dot-grid notebook', priceCents: 990, stock: 25 },
  { sku: 'SF-BACKPACK', name: 'Canvas backpack', priceCents: 8900, stock: 3 },
  { sku: 'SF-KETTLE', name: 'Stovetop kettle', priceCents: 5200, stock: 0 },
] as const;

/** The categories the page filters by; slugs start with `sf-`, as the skus with `SF-`, to stay apart from other rows. */
export const DEMO_CATEGORIES = [
  { slug: 'sf-desk', name: 'Desk' },
  { slug: 'sf-kitchen', name: 'Kitchen' },
  { slug: 'sf-travel', name: 'Travel' },
] as const;

type DemoSlug = (typeof DEMO_CATEGORIES)[number]['slug'];

/** Each demo product's categories; the mug is in two, so a filter shows that a product may be in several. */
export const DEMO_CATEGORIZATION: Readonly<Record<(typeof DEMO_PRODUCTS)[number]['sku'], readonly DemoSlug[]>> = {
  'SF-LAMP': ['sf-desk'],
  'SF-MUG': ['sf-kitchen', 'sf-travel'],
  'SF-NOTEBOOK': ['sf-desk'],
  'SF-BACKPACK': ['sf-travel'],
  'SF-KETTLE': ['sf-kitchen'],
};

/** Grace's $20 pays for a notebook or a mug, not for the rest: her larger orders show INSUFFICIENT_FUNDS. */
export const DEMO_ACCOUNTS = [
  { owner: 'Storefront demo: Ada', balanceCents: 50_000 },
  { owner: 'Storefront demo: Grace', balanceCents: 2_000 },
] as const;

export interface DemoDataOptions {
  /** freshgraph's GraphQL endpoint: products and accounts are created through the API. */
  readonly graphqlUrl: string;
  /** The server's database, only to find the demo accounts again (see findAccount). */
  readonly knex: Knex;
}

/**
 * Finds the demo products, categories and accounts, creating the ones that are
 * missing, so a first start seeds them and every later start shows the same rows.
 * A demo product in no category is put in its demo categories; one that is in some
 * keeps them (as it keeps its stock), so what was changed on the page survives a
 * restart. Returns what the page shows.
 */
export async function ensureDemoData({ graphqlUrl, knex }: DemoDataOptions): Promise<Catalogue> {
  const productIds: string[] = [];
  for (const product of DEMO_PRODUCTS) productIds.push(await ensureProduct(graphqlUrl, product));
  const categoryIds = new Map<string, string>();
  for (const category of DEMO_CATEGORIES) categoryIds.set(category.slug, await ensureCategory(graphqlUrl, category));
  for (const [i, product] of DEMO_PRODUCTS.entries()) {
    const wanted = DEMO_CATEGORIZATION[product.sku].map((slug) => categoryIds.get(slug) as string);
    await categorizeIfUncategorized(graphqlUrl, productIds[i] as string, wanted);
  }
  const accountIds: string[] = [];
  for (const account of DEMO_ACCOUNTS) {
    accountIds.push((await findAccount(knex, account.owner)) ?? (await createAccount(graphqlUrl, account)));
  }
  return { productIds, categoryIds: [...categoryIds.values()], accountIds };
}

async function ensureProduct(graphqlUrl: string, input: (typeof DEMO_PRODUCTS)[number]): Promise<string> {
  const find = async () =>
    (await gql<{ productBySku: { id: string } | null }>(graphqlUrl, 'query ($sku: String!) { productBySku(sku: $sku) { id } }', { sku: input.sku }))
      .productBySku?.id;
  const found = await find();
  if (found !== undefined) return found;
  try {
    return (
      await gql<{ createProduct: { id: string } }>(graphqlUrl, 'mutation ($input: NewProduct!) { createProduct(input: $input) { id } }', { input })
    ).createProduct.id;
  } catch (err) {
    // Another start created it meanwhile: that one is ours too.
    if (err instanceof GraphqlError && err.codes.includes('ALREADY_EXISTS')) {
      const id = await find();
      if (id !== undefined) return id;
    }
    throw err;
  }
}

async function ensureCategory(graphqlUrl: string, input: (typeof DEMO_CATEGORIES)[number]): Promise<string> {
  const find = async () =>
    (await gql<{ categoryBySlug: { id: string } | null }>(graphqlUrl, 'query ($slug: String!) { categoryBySlug(slug: $slug) { id } }', { slug: input.slug }))
      .categoryBySlug?.id;
  const found = await find();
  if (found !== undefined) return found;
  try {
    return (
      await gql<{ createCategory: { id: string } }>(graphqlUrl, 'mutation ($input: NewCategory!) { createCategory(input: $input) { id } }', { input })
    ).createCategory.id;
  } catch (err) {
    // Another start created it meanwhile: that one is ours too.
    if (err instanceof GraphqlError && err.codes.includes('ALREADY_EXISTS')) {
      const id = await find();
      if (id !== undefined) return id;
    }
    throw err;
  }
}

/** Two starts at once may both find the product in no category: both then set the same ones, which is harmless. */
async function categorizeIfUncategorized(graphqlUrl: string, productId: string, categoryIds: readonly string[]): Promise<void> {
  const { product } = await gql<{ product: { categories: { id: string }[] } | null }>(
    graphqlUrl,
    'query ($id: ID!) { product(id: $id) { categories { id } } }',
    { id: productId },
  );
  if (product === null || product.categories.length > 0) return;
  await gql(graphqlUrl, 'mutation ($productId: ID!, $categoryIds: [ID!]!) { categorize(productId: $productId, categoryIds: $categoryIds) { id } }', {
    productId,
    categoryIds,
  });
}

/**
 * The API reads accounts by id only, and ids are chosen by the server. The
 * `accounts` table is documented as readable by operators, so the demo account
 * is found there by its owner (read only; every write goes through the API).
 */
async function findAccount(knex: Knex, owner: string): Promise<string | undefined> {
  const row = (await knex('accounts').where({ owner }).orderBy('id').first('id')) as { id: string } | undefined;
  return row?.id;
}

async function createAccount(graphqlUrl: string, account: (typeof DEMO_ACCOUNTS)[number]): Promise<string> {
  return (
    await gql<{ createAccount: { id: string } }>(
      graphqlUrl,
      'mutation ($owner: String!, $balanceCents: Int!) { createAccount(owner: $owner, balanceCents: $balanceCents) { id } }',
      account,
    )
  ).createAccount.id;
}

class GraphqlError extends Error {
  constructor(readonly codes: readonly string[], message: string) {
    super(message);
  }
}

async function gql<T>(url: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length || !body.data) {
    const errors = body.errors ?? [];
    throw new GraphqlError(
      errors.map((e) => e.extensions?.code ?? 'ERROR'),
      `freshgraph refused a demo-data request (HTTP ${res.status}): ${errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ')}`,
    );
  }
  return body.data;
}
