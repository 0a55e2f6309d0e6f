import type { WorkloadName } from './options.js';
import { seededRandom, zipfSampler } from './random.js';

const FIELDS = 'id sku name priceCents stock version updatedAt';
export const PRODUCT_QUERY = `query Product($id: ID!) { product(id: $id) { ${FIELDS} } }`;
export const PRODUCTS_QUERY = `query Products($ids: [ID!]!) { products(ids: $ids) { ${FIELDS} } }`;
export const ENTITIES_QUERY = `query Entities($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { ${FIELDS} } } }`;
export const ADJUST_STOCK = `mutation AdjustStock($id: ID!, $delta: Int!) { adjustStock(id: $id, delta: $delta) { id stock version } }`;

export interface WorkloadSpec {
  readonly name: WorkloadName;
  readonly title: string;
  /** autocannon for fixed request shapes; the mixed driver when reads must be checked against writes. */
  readonly driver: 'autocannon' | 'mixed';
  readonly connections: number;
  /** Share of adjustStock mutations in a mixed workload. */
  readonly writeShare: number;
}

export function workloadSpec(name: WorkloadName, connections: number, batch: number): WorkloadSpec {
  switch (name) {
    case 'product':
      return { name, title: '`product(id)`, Zipf ids', driver: 'autocannon', connections, writeShare: 0 };
    case 'products':
      return { name, title: `\`products(ids)\`, ${batch} Zipf ids`, driver: 'autocannon', connections, writeShare: 0 };
    case 'entities':
      return { name, title: `\`_entities\`, ${batch} Product representations`, driver: 'autocannon', connections, writeShare: 0 };
    case 'mix95':
      return { name, title: 'mix 95 % `product(id)` / 5 % `adjustStock`', driver: 'mixed', connections, writeShare: 0.05 };
    case 'mix80':
      return { name, title: 'mix 80 % `product(id)` / 20 % `adjustStock`', driver: 'mixed', connections, writeShare: 0.2 };
    case 'mutation':
      return { name, title: `\`adjustStock\` latency, ${connections} connections`, driver: 'autocannon', connections, writeShare: 1 };
    case 'mutation1':
      return { name, title: '`adjustStock` latency, 1 connection', driver: 'autocannon', connections: 1, writeShare: 1 };
  }
}

/**
 * Request bodies from a seeded stream, so every configuration gets the same
 * sequence. Reads pick ids by Zipf rank; stock changes pick them uniformly
 * (row locks on a few hot rows would measure contention, not the cache) and
 * alternate +1/-1 per id, so stock never runs out.
 */
export class RequestFactory {
  private readonly zipf: () => number;
  private readonly uniform: () => number;
  private readonly sign: Int8Array;

  constructor(
    readonly ids: readonly string[],
    zipfExponent: number,
    seed: number,
  ) {
    const random = seededRandom(seed);
    this.zipf = zipfSampler(ids.length, zipfExponent, random);
    this.uniform = () => Math.floor(random() * ids.length);
    this.sign = new Int8Array(ids.length);
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
      default:
        throw new Error(`${workload} is driven by the mixed driver`);
    }
  }
}
