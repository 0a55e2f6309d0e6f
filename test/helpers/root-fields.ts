/**
 * One operation per root field of the schema, with what it costs (see
 * src/plugins/cost-limit.ts), for the tests that must hold for every root field:
 * the cost (test/unit/cost.test.ts, which also checks that this list names every
 * root field the schema has) and the execution deadline (test/graphql/workload-limits.test.ts).
 * Ids are well-formed but name nothing, so no operation changes anything when it runs.
 */
export interface RootFieldCase {
  /** `Query.products`, `Mutation.placeOrder`. */
  readonly field: string;
  readonly query: string;
  readonly variables?: Record<string, unknown>;
  readonly cost: number;
}

const ID = '0190a0b0-0000-7000-8000-000000000000';
const ids = (n: number) => Array.from({ length: n }, () => ID);
const list = (n: number) => `[${ids(n).map((id) => `"${id}"`).join(', ')}]`;

export const ROOT_FIELD_CASES: readonly RootFieldCase[] = [
  { field: 'Query.product', query: `{ product(id: "${ID}") { id name } }`, cost: 1 },
  { field: 'Query.productBySku', query: '{ productBySku(sku: "NOPE") { id } }', cost: 1 },
  { field: 'Query.products', query: 'query($ids: [ID!]!) { products(ids: $ids) { id name } }', variables: { ids: ids(500) }, cost: 500 },
  { field: 'Query.account', query: `{ account(id: "${ID}") { id } }`, cost: 1 },
  // 50 accounts x (1 + an order connection: 1 + 10 rows).
  {
    field: 'Query.accounts',
    query: 'query($ids: [ID!]!) { accounts(ids: $ids) { orders(first: 10) { totalCount nodes { id totalCents } } } }',
    variables: { ids: ids(50) },
    cost: 600,
  },
  // 1 + 100 lines x (1 + their product).
  { field: 'Query.order', query: `{ order(id: "${ID}") { lines { quantity product { id } } } }`, cost: 201 },
  { field: 'Query.orders', query: `{ orders(ids: ${list(3)}) { id account { id } } }`, cost: 6 },
  // 1 + 5 rows + 5 x 50 categories.
  { field: 'Query.productCatalog', query: '{ productCatalog(first: 5) { edges { cursor node { categories { id } } } } }', cost: 256 },
  // 1 + its products: 1 + 20 rows (the default `first`).
  { field: 'Query.category', query: `{ category(id: "${ID}") { products { totalCount nodes { id } } } }`, cost: 22 },
  { field: 'Query.categories', query: `{ categories(ids: ${list(2)}) { id } }`, cost: 2 },
  { field: 'Query.categoryBySlug', query: '{ categoryBySlug(slug: "nope") { id } }', cost: 1 },
  {
    field: 'Query._entities',
    query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } ... on Order { id } } }',
    variables: { r: ids(3).map((id) => ({ __typename: 'Product', id })) },
    cost: 3,
  },
  { field: 'Query._service', query: '{ _service { sdl } }', cost: 1 },
  { field: 'Mutation.createProduct', query: 'mutation { createProduct(input: { sku: "", name: "", priceCents: 1, stock: 1 }) { id } }', cost: 1 },
  { field: 'Mutation.updateProduct', query: `mutation { updateProduct(id: "${ID}", patch: { name: "x" }) { id } }`, cost: 1 },
  { field: 'Mutation.adjustStock', query: `mutation { adjustStock(id: "${ID}", delta: 1) { id } }`, cost: 1 },
  {
    field: 'Mutation.adjustStocks',
    query: 'mutation($c: [StockChange!]!) { adjustStocks(changes: $c) { id stock } }',
    variables: { c: ids(4).map((id) => ({ id, delta: 1 })) },
    cost: 4,
  },
  // A scalar: the least a root field costs.
  { field: 'Mutation.deleteProduct', query: `mutation { deleteProduct(id: "${ID}") }`, cost: 1 },
  { field: 'Mutation.createAccount', query: 'mutation { createAccount(owner: "", balanceCents: 1) { id } }', cost: 1 },
  { field: 'Mutation.transfer', query: `mutation { transfer(fromId: "${ID}", toId: "${ID}", amountCents: 1) { from { id } to { id } } }`, cost: 3 },
  // The 3 lines it is given, plus the order's lines (at most 100).
  {
    field: 'Mutation.placeOrder',
    query: `mutation { placeOrder(accountId: "${ID}", lines: [${ids(3).map((id) => `{ productId: "${id}", quantity: 1 }`).join(', ')}]) { id lines { productId } } }`,
    cost: 103,
  },
  { field: 'Mutation.createCategory', query: 'mutation { createCategory(input: { name: "", slug: "" }) { id } }', cost: 1 },
  { field: 'Mutation.updateCategory', query: `mutation { updateCategory(id: "${ID}", patch: { name: "x" }) { id } }`, cost: 1 },
  { field: 'Mutation.deleteCategory', query: `mutation { deleteCategory(id: "${ID}") }`, cost: 1 },
  // The 3 categories it is given, plus the product's (at most 50).
  { field: 'Mutation.categorize', query: `mutation { categorize(productId: "${ID}", categoryIds: ${list(3)}) { categories { id } } }`, cost: 53 },
];
