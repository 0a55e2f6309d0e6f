import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { codesOf, dataOf, QUIET_BACKGROUND, startTestApp, type GqlResponse, type TestApp } from '../helpers/app.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { categorize, costOf, createAccount, createCategory, createProduct, DEBUG, placeOrder, uniqueSlug } from '../helpers/shop.js';

/** Lists through the API: connections and plain lists, what each mutation does to them, and every refusal. */

let app: TestApp;
// A database of its own: the catalog lists every product, and other files add products all the time.
let scratch: ScratchDatabase;

beforeAll(async () => {
  scratch = await createScratchDatabase('listsapi');
  // A small window, so that pages past it (read from Postgres) are easy to reach.
  app = await startTestApp({ ...QUIET_BACKGROUND, DATABASE_URL: scratch.url, DEBUG_EXTENSIONS: 'true', CACHE_LIST_WINDOW: '5' });
});
afterAll(async () => {
  await app?.close();
  await scratch?.drop();
});

interface Page<N> {
  totalCount: number;
  edges: { cursor: string; node: N }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

const ORDERS = `query($a: ID!, $first: Int, $after: String) {
  account(id: $a) { orders(first: $first, after: $after) { totalCount edges { cursor node { id totalCents } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }
}`;
const orders = (accountId: string, first?: number | null, after?: string | null) =>
  app.gql<{ account: { orders: Page<{ id: string; totalCents: number }> } }>(ORDERS, { a: accountId, first, after }, DEBUG);

const CATEGORY = `query($c: ID!, $first: Int, $after: String) {
  category(id: $c) { id name products(first: $first, after: $after) { totalCount edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }
}`;
const categoryProducts = (categoryId: string, first?: number, after?: string) =>
  app.gql<{ category: { products: Page<{ id: string; name: string }> } }>(CATEGORY, { c: categoryId, first, after }, DEBUG);

const productCategories = async (productId: string): Promise<string[]> =>
  dataOf(await app.gql<{ product: { categories: { id: string }[] } }>('query($p: ID!) { product(id: $p) { categories { id } } }', { p: productId })).product.categories.map(
    (c) => c.id,
  );

/** Every page of a list, following endCursor, with the cost of each request. */
async function allPages<N extends { id: string }>(read: (after: string | undefined) => Promise<GqlResponse<Page<N>>>): Promise<{ ids: string[]; costs: number[] }> {
  const ids: string[] = [];
  const costs: number[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 50; pages++) {
    const response = await read(after);
    const page = dataOf(response);
    ids.push(...page.edges.map((e) => e.node.id));
    costs.push(costOf(response).sqlStatements);
    if (!page.pageInfo.hasNextPage) return { ids, costs };
    after = page.pageInfo.endCursor ?? undefined;
  }
  throw new Error('more than 50 pages');
}

describe('Account.orders', () => {
  it('has a placed order at its head at once, with the count, read from the cache', async () => {
    const product = await createProduct(app);
    const account = await createAccount(app);
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      placed.unshift(await placeOrder(app, account, product));
      const response = await orders(account, 10);
      const page = dataOf(response).account.orders;
      expect(page.edges.map((e) => e.node.id)).toEqual(placed);
      expect(page.totalCount).toBe(placed.length);
      // The list and its members came from the cache, kept fresh by the write itself.
      expect(costOf(response).sqlStatements).toBe(0);
    }
  });

  it('pages with first/after through every order once, newest first, within the cached window and past it', async () => {
    const product = await createProduct(app);
    const account = await createAccount(app);
    const placed: string[] = [];
    for (let i = 0; i < 12; i++) placed.unshift(await placeOrder(app, account, product));
    const pages = await allPages(async (after) => {
      const r = await orders(account, 4, after);
      return { ...r, data: r.data?.account.orders } as GqlResponse<Page<{ id: string }>>;
    });
    expect(pages.ids).toEqual(placed);
    // The window holds 5: the first page comes from it; the pages after the 5th order come from Postgres.
    expect(pages.costs[0]).toBe(0);
    expect(pages.costs.slice(1).every((n) => n >= 1)).toBe(true);
    const head = dataOf(await orders(account, 2)).account.orders;
    expect(head.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(head.pageInfo.startCursor).toBe(head.edges[0]?.cursor);
    expect(head.pageInfo.endCursor).toBe(head.edges[1]?.cursor);
    const next = dataOf(await orders(account, 2, head.pageInfo.endCursor)).account.orders;
    expect(next.edges.map((e) => e.node.id)).toEqual(placed.slice(2, 4));
    expect(next.pageInfo.hasPreviousPage).toBe(true);
  });

  it('serves first: 0 (no edges, the count), null first as 20, and an account without orders as an empty connection', async () => {
    const product = await createProduct(app);
    const account = await createAccount(app);
    const empty = dataOf(await orders(account, null)).account.orders;
    expect(empty).toEqual({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
    for (let i = 0; i < 21; i++) await placeOrder(app, account, product);
    const none = dataOf(await orders(account, 0)).account.orders;
    expect(none).toMatchObject({ totalCount: 21, edges: [], pageInfo: { hasNextPage: true, endCursor: null } });
    const byDefault = dataOf(await orders(account)).account.orders;
    expect(byDefault.edges).toHaveLength(20);
    expect(byDefault.pageInfo.hasNextPage).toBe(true);
  });

  it('refuses first below 0 or above 100, a cursor that does not decode, and a cursor of another list, with BAD_USER_INPUT', async () => {
    const product = await createProduct(app);
    const [mine, theirs] = [await createAccount(app), await createAccount(app)];
    await placeOrder(app, mine, product);
    await placeOrder(app, theirs, product);
    const cursor = dataOf(await orders(theirs, 1)).account.orders.pageInfo.endCursor as string;
    const refused = [await orders(mine, -1), await orders(mine, 101), await orders(mine, 1, 'not a cursor'), await orders(mine, 1, 'WzEsMiwzXQ'), await orders(mine, 1, cursor)];
    for (const response of refused) {
      expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.data?.account ?? null).toBeNull();
    }
    expect(refused[4]?.errors?.[0]?.message).toMatch(/another list/);
    // A category's cursor on an account's orders: another list too.
    const category = await createCategory(app, 'Cursor test');
    await categorize(app, product, [category]);
    const other = dataOf(await categoryProducts(category, 1)).category.products.pageInfo.endCursor as string;
    expect(codesOf(await orders(mine, 1, other))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('connection arguments are checked before anything runs', () => {
  it('refuses a mutation whose selection asks for a bad first or cursor, and the mutation does not happen', async () => {
    const product = await createProduct(app, { stock: 10 });
    const account = await createAccount(app);
    const stockOf = async () => dataOf(await app.gql<{ product: { stock: number } }>('query($p: ID!) { product(id: $p) { stock } }', { p: product })).product.stock;
    const place = (selection: string, variables: Record<string, unknown> = {}, fragments = '') => {
      const declared = ['$a: ID!', '$p: ID!', ...('f' in variables ? ['$f: Int'] : []), ...('c' in variables ? ['$c: String'] : [])];
      return app.gql(
        `mutation(${declared.join(', ')}) { placeOrder(accountId: $a, lines: [{ productId: $p, quantity: 1 }]) { id account { ${selection} } } } ${fragments}`,
        { a: account, p: product, ...variables },
      );
    };
    for (const response of [
      await place('orders(first: -1) { totalCount }'),
      await place('orders(first: $f) { totalCount }', { f: 101 }),
      await place('orders(after: $c) { totalCount }', { c: 'garbage' }),
      await place('... on Account { orders(first: 500) { totalCount } }'),
      await place('...Orders', { f: -5 }, 'fragment Orders on Account { orders(first: $f) { totalCount } }'),
    ]) {
      expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.status).toBe(200);
    }
    expect(await stockOf()).toBe(10);
    expect(dataOf(await orders(account)).account.orders.totalCount).toBe(0);
  });
});

describe('Category.products and Product.categories', () => {
  it('creates a category with a unique slug, found by categoryBySlug; a taken slug is ALREADY_EXISTS, a bad one BAD_USER_INPUT', async () => {
    const slug = uniqueSlug('garden');
    const create = (s: unknown) => app.gql<{ createCategory: { id: string; slug: string; version: number } }>('mutation($i: NewCategory!) { createCategory(input: $i) { id slug version } }', { i: { name: 'Garden', slug: s } });
    const created = dataOf(await create(slug)).createCategory;
    expect(created).toMatchObject({ slug, version: 1 });
    expect(dataOf(await app.gql<{ categoryBySlug: { id: string } }>('query($s: String!) { categoryBySlug(slug: $s) { id } }', { s: slug })).categoryBySlug.id).toBe(created.id);
    expect(codesOf(await create(slug))).toEqual(['ALREADY_EXISTS']);
    for (const bad of ['', 'Garden', 'two  words', '-dash', 'a'.repeat(65)]) expect(codesOf(await create(bad))).toEqual(['BAD_USER_INPUT']);
  });

  it('categorize replaces the product\'s set and changes both sides at once', async () => {
    const product = await createProduct(app, { name: 'Trowel' });
    const [tools, garden, sale] = [await createCategory(app, 'Tools'), await createCategory(app, 'Garden'), await createCategory(app, 'Sale')];
    await categorize(app, product, [tools, garden]);
    // By name: Garden, Tools.
    expect(await productCategories(product)).toEqual([garden, tools]);
    for (const c of [tools, garden]) expect(dataOf(await categoryProducts(c)).category.products.edges.map((e) => e.node.id)).toEqual([product]);
    await categorize(app, product, [sale, garden]);
    expect(await productCategories(product)).toEqual([garden, sale]);
    const afterMove = await categoryProducts(tools);
    expect(dataOf(afterMove).category.products).toMatchObject({ totalCount: 0, edges: [] });
    expect(costOf(afterMove).sqlStatements).toBe(0);
    expect(dataOf(await categoryProducts(sale)).category.products.edges.map((e) => e.node.id)).toEqual([product]);
    await categorize(app, product, []);
    expect(await productCategories(product)).toEqual([]);
    for (const c of [garden, sale]) expect(dataOf(await categoryProducts(c)).category.products.totalCount).toBe(0);
  });

  it('refuses an unknown product or category (NOT_FOUND), a repeated, malformed or 51st category (BAD_USER_INPUT), and changes nothing', async () => {
    const product = await createProduct(app);
    const kept = await createCategory(app, 'Kept');
    await categorize(app, product, [kept]);
    const other = await createCategory(app, 'Other');
    const attempt = (p: string, c: unknown[]) => app.gql('mutation($p: ID!, $c: [ID!]!) { categorize(productId: $p, categoryIds: $c) { id } }', { p, c });
    expect(codesOf(await attempt(newId(), [kept]))).toEqual(['NOT_FOUND']);
    expect(codesOf(await attempt(product, [other, newId()]))).toEqual(['NOT_FOUND']);
    expect(codesOf(await attempt(product, [other, other]))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await attempt(product, ['nope']))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await attempt(product, Array.from({ length: 51 }, () => newId())))).toEqual(['BAD_USER_INPUT']);
    expect(await productCategories(product)).toEqual([kept]);
    expect(dataOf(await categoryProducts(other)).category.products.totalCount).toBe(0);
  });

  it('pages a category by name, then id, and a page after a product that left it starts where that product was', async () => {
    const category = await createCategory(app, 'Paged');
    const names = ['Bolt', 'Anchor', 'Clamp', 'Drill', 'Bolt', 'Awl'];
    const ids = [];
    for (const name of names) {
      const id = await createProduct(app, { name });
      await categorize(app, id, [category]);
      ids.push({ id, name });
    }
    const expected = [...ids].sort((a, b) => (a.name === b.name ? (a.id < b.id ? -1 : 1) : a.name < b.name ? -1 : 1)).map((p) => p.id);
    const first = dataOf(await categoryProducts(category, 3)).category.products;
    expect(first.edges.map((e) => e.node.id)).toEqual(expected.slice(0, 3));
    // The product the cursor points at leaves the category: the next page goes on after where it was.
    await categorize(app, expected[2] as string, []);
    const next = dataOf(await categoryProducts(category, 3, first.pageInfo.endCursor as string)).category.products;
    expect(next.edges.map((e) => e.node.id)).toEqual(expected.slice(3, 6));
    expect(next.totalCount).toBe(5);
  });

  it('moves a renamed product within its categories and the catalog at once, and takes a deleted one out of both', async () => {
    const category = await createCategory(app, 'Renames');
    const [a, b] = [await createProduct(app, { name: 'Apple' }), await createProduct(app, { name: 'Banana' })];
    for (const id of [a, b]) await categorize(app, id, [category]);
    const inCategory = async () => dataOf(await categoryProducts(category)).category.products.edges.map((e) => e.node.id);
    expect(await inCategory()).toEqual([a, b]);
    dataOf(await app.gql('mutation($id: ID!) { updateProduct(id: $id, patch: { name: "Cherry" }) { version } }', { id: a }));
    expect(await inCategory()).toEqual([b, a]);
    const catalog = await catalogIds();
    expect(catalog.indexOf(b)).toBeLessThan(catalog.indexOf(a));
    expect(dataOf(await app.gql<{ deleteProduct: boolean }>('mutation($id: ID!) { deleteProduct(id: $id) }', { id: b })).deleteProduct).toBe(true);
    expect(await inCategory()).toEqual([a]);
    expect(await catalogIds()).not.toContain(b);
  });
});

/** Every product of the catalog, by following its pages. */
async function catalogIds(): Promise<string[]> {
  const pages = await allPages(async (after) => {
    const r = await app.gql<{ productCatalog: Page<{ id: string }> }>(
      'query($after: String) { productCatalog(first: 100, after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }',
      { after },
      DEBUG,
    );
    return { ...r, data: r.data?.productCatalog } as GqlResponse<Page<{ id: string }>>;
  });
  return pages.ids;
}

describe('Query.productCatalog', () => {
  it('lists every product by name, then id; a new product is in it at once, and its total counts it', async () => {
    const read = async () => dataOf(await app.gql<{ productCatalog: { totalCount: number } }>('query { productCatalog(first: 0) { totalCount } }')).productCatalog.totalCount;
    const before = await read();
    const id = await createProduct(app, { name: `AAAA first ${newId()}` });
    expect(await read()).toBe(before + 1);
    const catalog = await catalogIds();
    expect(catalog).toContain(id);
    expect(catalog).toHaveLength(before + 1);
    const rows = (await app.running.deps.db.knex.raw('select id::text from products order by name, id')) as { rows: { id: string }[] };
    expect(catalog).toEqual(rows.rows.map((r) => r.id));
  });
});
