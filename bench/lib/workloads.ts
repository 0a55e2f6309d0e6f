import type { WorkloadName } from './options.js';
import { seededRandom, zipfSampler } from './random.js';

const FIELDS = 'id sku name priceCents stock version updatedAt';
export const PRODUCT_QUERY = `query Product($id: ID!) { product(id: $id) { ${FIELDS} } }`;
export const PRODUCTS_QUERY = `query Products($ids: [ID!]!) { products(ids: $ids) { ${FIELDS} } }`;
export const ENTITIES_QUERY = `query Entities($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { ${FIELDS} } } }`;
export const ADJUST_STOCK = `mutation AdjustStock($id: ID!, $delta: Int!) { adjustStock(id: $id, delta: $delta) { id stock version } }`;
/** The `list` workload's one request shape: an account's first page of orders, newest first. */
export const LIST_QUERY = `query AccountOrders($id: ID!) { account(id: $id) { orders(first: 10) { nodes { id totalCents } } } }`;
/** The reads of `listmix95`: the same page with its totalCount, so that a count below the acknowledged one is seen. */
export const LIST_CHECKED_QUERY = `query AccountOrders($id: ID!) { account(id: $id) { orders(first: 10) { totalCount nodes { id totalCents } } } }`;
/**
 * Every field of a page but the orders' lines, for comparing the configurations' answers (cursors aside)
 * before measuring: with their lines, pages of 100 would cost far more than the default MAX_COST.
 */
export const LIST_PAGE_QUERY =
  'query AccountOrderPage($id: ID!, $first: Int, $after: String) { account(id: $id) { id orders(first: $first, after: $after) { totalCount ' +
  'pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id accountId totalCents version createdAt } } nodes { id } } } }';
/** A new product: a new member of the catalog list (`productCatalog`), so the write raises a list too. */
export const CREATE_PRODUCT = `mutation CreateProduct($input: NewProduct!) { createProduct(input: $input) { id sku version } }`;
/** A product's categories replaced: join rows added and removed, the lists of both sides raised. */
export const CATEGORIZE = `mutation Categorize($productId: ID!, $categoryIds: [ID!]!) { categorize(productId: $productId, categoryIds: $categoryIds) { id version } }`;
/** `createdAt` lets the stale-list check order what it acknowledged against what a read returned. */
export const PLACE_ORDER = `mutation PlaceOrder($accountId: ID!, $lines: [OrderLineInput!]!) { placeOrder(accountId: $accountId, lines: $lines) { id accountId totalCents version createdAt } }`;

export interface WorkloadSpec {
  readonly name: WorkloadName;
  readonly title: string;
  /** autocannon for fixed request shapes; the mixed driver when reads must be checked against writes. */
  readonly driver: 'autocannon' | 'mixed';
  /** What it reads and writes: products (`product(id)`, `adjustStock`) or accounts' order lists (`Account.orders`, `placeOrder`). */
  readonly data: 'products' | 'lists';
  readonly connections: number;
  /** Share of mutations (adjustStock, or placeOrder on lists); 1 for a mutation-only workload. */
  readonly writeShare: number;
}

export function workloadSpec(name: WorkloadName, connections: number, batch: number): WorkloadSpec {
  switch (name) {
    case 'product':
      return { name, title: '`product(id)`, Zipf ids', driver: 'autocannon', data: 'products', connections, writeShare: 0 };
    case 'products':
      return { name, title: `\`products(ids)\`, ${batch} Zipf ids`, driver: 'autocannon', data: 'products', connections, writeShare: 0 };
    case 'entities':
      return { name, title: `\`_entities\`, ${batch} Product representations`, driver: 'autocannon', data: 'products', connections, writeShare: 0 };
    case 'mix95':
      return { name, title: 'mix 95 % `product(id)` / 5 % `adjustStock`', driver: 'mixed', data: 'products', connections, writeShare: 0.05 };
    case 'mix80':
      return { name, title: 'mix 80 % `product(id)` / 20 % `adjustStock`', driver: 'mixed', data: 'products', connections, writeShare: 0.2 };
    case 'mutation':
      return { name, title: `\`adjustStock\` latency, ${connections} connections`, driver: 'autocannon', data: 'products', connections, writeShare: 1 };
    case 'mutation1':
      return { name, title: '`adjustStock` latency, 1 connection', driver: 'autocannon', data: 'products', connections: 1, writeShare: 1 };
    case 'list':
      return { name, title: '`account(id) { orders(first: 10) }`, Zipf accounts', driver: 'autocannon', data: 'lists', connections, writeShare: 0 };
    case 'listmix95':
      return { name, title: 'mix 95 % `orders(first: 10)` / 5 % `placeOrder`', driver: 'mixed', data: 'lists', connections, writeShare: 0.05 };
    case 'order':
      return { name, title: `\`placeOrder\` latency, ${connections} connections`, driver: 'autocannon', data: 'lists', connections, writeShare: 1 };
    case 'create':
      return { name, title: `\`createProduct\` latency, ${connections} connections`, driver: 'autocannon', data: 'products', connections, writeShare: 1 };
    case 'categorize':
      return { name, title: `\`categorize\` latency, ${connections} connections`, driver: 'autocannon', data: 'products', connections, writeShare: 1 };
  }
}

/**
 * Request bodies from a seeded stream, so every configuration gets the same
 * sequence. Reads pick ids by Zipf rank; stock changes pick them uniformly
 * (row locks on a few hot rows would measure contention, not the cache) and
 * alternate +1/-1 per id, so stock never runs out. Accounts (for the list
 * workloads) have a Zipf rank of their own; an order's products are drawn
 * uniformly, one unit each.
 */
export class RequestFactory {
  private readonly zipf: () => number;
  private readonly uniform: () => number;
  private readonly accountZipf: () => number;
  private readonly accountUniform: () => number;
  private readonly sign: Int8Array;
  private created = 0;

  constructor(
    readonly ids: readonly string[],
    zipfExponent: number,
    private readonly seed: number,
    readonly accountIds: readonly string[] = [],
    readonly categoryIds: readonly string[] = [],
  ) {
    const random = seededRandom(seed);
    this.zipf = zipfSampler(ids.length, zipfExponent, random);
    this.uniform = () => Math.floor(random() * ids.length);
    this.accountZipf = accountIds.length > 0 ? zipfSampler(accountIds.length, zipfExponent, random) : () => 0;
    this.accountUniform = () => Math.floor(random() * accountIds.length);
    this.sign = new Int8Array(ids.length);
  }

  accountZipfRank(): number {
    return this.accountZipf();
  }

  accountUniformRank(): number {
    return this.accountUniform();
  }

  /** An account's first ten orders; `checked`: with totalCount, as the mixed workload reads them. */
  accountOrders(rank: number, checked = false): string {
    return `{"query":${JSON.stringify(checked ? LIST_CHECKED_QUERY : LIST_QUERY)},"variables":{"id":"${this.accountIds[rank]}"}}`;
  }

  /** placeOrder for the account of `rank`, one unit of each product: one or two distinct products drawn uniformly unless `productRanks` names them. */
  placeOrder(rank: number, productRanks?: readonly number[]): string {
    let products = productRanks;
    if (products === undefined) {
      const first = this.uniform();
      const two = this.uniform() % 2 === 1 && this.ids.length > 1;
      const second = this.uniform();
      products = two ? [first, second === first ? (first + 1) % this.ids.length : second] : [first];
    }
    const lines = products.map((p) => `{"productId":"${this.ids[p]}","quantity":1}`).join(',');
    return `{"query":${JSON.stringify(PLACE_ORDER)},"variables":{"accountId":"${this.accountIds[rank]}","lines":[${lines}]}}`;
  }

  zipfRank(): number {
    return this.zipf();
  }

  uniformRank(): number {
    return this.uniform();
  }

  product(rank: number): string {
    return `{"query":${JSON.stringify(PRODUCT_QUERY)},"variables":{"id":"${this.ids[rank]}"}}`;
  }

  products(batch: number): string {
    const ids: string[] = [];
    for (let i = 0; i < batch; i++) ids.push(this.ids[this.zipf()] as string);
    return JSON.stringify({ query: PRODUCTS_QUERY, variables: { ids } });
  }

  entities(batch: number): string {
    const representations: { __typename: string; id: string }[] = [];
    for (let i = 0; i < batch; i++) representations.push({ __typename: 'Product', id: this.ids[this.zipf()] as string });
    return JSON.stringify({ query: ENTITIES_QUERY, variables: { representations } });
  }

  adjustStock(rank: number): string {
    const delta = (this.sign[rank] = this.sign[rank] === 1 ? -1 : 1);
    return `{"query":${JSON.stringify(ADJUST_STOCK)},"variables":{"id":"${this.ids[rank]}","delta":${delta}}}`;
  }

  /** A product of its own sku: the seed and a counter, so no two requests of a run (each round has its seed) collide. */
  createProduct(): string {
    const n = ++this.created;
    const input = { sku: `BENCH-${this.seed}-${n}`, name: `Bench product ${this.seed}-${n}`, priceCents: 100 + (n % 900), stock: 10 };
    return JSON.stringify({ query: CREATE_PRODUCT, variables: { input } });
  }

  /** A uniformly drawn product filed under one to three uniformly drawn categories (replacing what it had). */
  categorize(rank: number): string {
    const picked = new Set<string>();
    const count = 1 + (this.uniform() % 3);
    while (picked.size < Math.min(count, this.categoryIds.length)) picked.add(this.categoryIds[this.uniform() % this.categoryIds.length] as string);
    return JSON.stringify({ query: CATEGORIZE, variables: { productId: this.ids[rank], categoryIds: [...picked] } });
  }

  /** The body of the next request of a fixed-shape workload. */
  next(workload: WorkloadName, batch: number): string {
    switch (workload) {
      case 'product':
        return this.product(this.zipf());
      case 'products':
        return this.products(batch);
      case 'entities':
        return this.entities(batch);
      case 'mutation':
      case 'mutation1':
        return this.adjustStock(this.uniform());
      case 'list':
        return this.accountOrders(this.accountZipf());
      case 'order':
        // Uniform accounts, as adjustStock's uniform products: the latency of the write, not of contention on a hot account.
        return this.placeOrder(this.accountUniform());
      case 'create':
        return this.createProduct();
      case 'categorize':
        return this.categorize(this.uniform());
      default:
        throw new Error(`${workload} is driven by the mixed driver`);
    }
  }
}
