import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { codesOf, dataOf, QUIET_BACKGROUND, startTestApp, type GqlResponse, type TestApp } from '../helpers/app.js';
import { costCounters } from '../helpers/counting.js';
import { insertProducts } from '../helpers/products.js';

/**
 * The cost limit through the real server, on the requests that walked around
 * it: lists sent as default values, lists nested in lists, and variables named
 * like properties of Object.prototype. A refusal is decided before any work:
 * no SQL statement, no Redis round trip.
 */
let app: TestApp;
let productIds: string[];
beforeAll(async () => {
  app = await startTestApp(QUIET_BACKGROUND);
  productIds = await insertProducts(app.running.deps.db.knex, 3);
});
afterAll(async () => {
  await app?.close();
});
const costs = costCounters(() => app);

const quoted = (ids: readonly string[]) => `[${ids.map((id) => `"${id}"`).join(',')}]`;
const ids = (n: number) => Array.from({ length: n }, () => newId());
const aliases = (n: number, field: (i: number) => string) => Array.from({ length: n }, (_, i) => field(i)).join(' ');

async function expectCostRefusal(res: GqlResponse<unknown>, cost: number): Promise<void> {
  expect(res.status).toBe(400);
  expect(codesOf(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  expect(res.errors?.[0]?.extensions).toMatchObject({ limit: 'MAX_COST', max: 1000, cost });
  expect(res.data ?? null).toBeNull();
  await app.running.deps.cache.idle();
  expect(costs.sql.statements).toEqual([]);
  expect(costs.redisTrips.count).toBe(0);
}

describe('lists given as default values of variables', () => {
  const fifteen = aliases(15, (i) => `a${i}: products(ids: $a) { id }`);

  it('cost what the same lists cost as variables (15 aliases of 500 ids: 7,500)', async () => {
    const list = ids(500);
    await expectCostRefusal(await app.gql(`query($a: [ID!]! = ${quoted(list)}) { ${fifteen} }`), 7500);
    await expectCostRefusal(await app.gql(`query($a: [ID!]!) { ${fifteen} }`, { a: list }), 7500);
  });

  it('are replaced by the variables when sent, as execution replaces them', async () => {
    const res = await app.gql(`query($a: [ID!]! = ${quoted(ids(500))}) { ${fifteen} }`, { a: [productIds[0]] });
    expect(codesOf(res)).toEqual([]);
    expect(Object.keys(dataOf(res))).toHaveLength(15);
  });
});

describe('lists nested in lists', () => {
  const ORDER = 'id lines { quantity unitPriceCents product { id sku name priceCents stock } } account { id owner balanceCents }';
  // 500 orders x (the order + up to 100 lines x (the line + its product) + the account).
  const PER_ORDER = 1 + 100 * (1 + 1) + 1;

  it("multiply: 500 orders of up to 100 lines each are refused before anything runs", async () => {
    await expectCostRefusal(await app.gql(`{ orders(ids: ${quoted(ids(500))}) { ${ORDER} } }`), 500 * PER_ORDER);
  });

  it('multiply for every alias, with the list as a default value (15 aliases of 100 orders, from a 4.8 KB body)', async () => {
    const query = `query($o: [ID!]! = ${quoted(ids(100))}) { ${aliases(15, (i) => `o${i}: orders(ids: $o) { ${ORDER} }`)} }`;
    await expectCostRefusal(await app.gql(query), 15 * 100 * PER_ORDER);
  });

  it('multiply through connections and the lists inside them, on every root field that has one', async () => {
    await expectCostRefusal(
      await app.gql('{ productCatalog(first: 100) { nodes { categories { products(first: 100) { nodes { id } } } } } }'),
      1 + 100 + 100 * 50 * (1 + 1 + 100),
    );
    await expectCostRefusal(
      await app.gql(`query($a: [ID!]!) { accounts(ids: $a) { orders(first: 100) { edges { node { lines { product { id } } } } } } }`, { a: ids(10) }),
      10 * (1 + 1 + 100 + 100 * 100 * 2),
    );
    await expectCostRefusal(
      await app.gql(`{ categories(ids: ${quoted(ids(20))}) { products { nodes { categories { id } } } } }`),
      20 * (1 + 1 + 20 + 20 * 50),
    );
    await expectCostRefusal(await app.gql(`{ products(ids: ${quoted(ids(30))}) { categories { id } } }`), 30 * (1 + 50));
  });

  it('still fit the limit when they are small: 50 accounts with a page of 10 orders each', async () => {
    // The accounts do not exist, so no connection is resolved: this is about the cost alone.
    const res = await app.gql<{ accounts: unknown[] }>('query($a: [ID!]!) { accounts(ids: $a) { orders(first: 10) { totalCount nodes { id totalCents } } } }', {
      a: ids(50),
    });
    expect(codesOf(res)).toEqual([]);
    expect(dataOf(res).accounts).toEqual(Array.from({ length: 50 }, () => null));
  });
});

describe('variables named like properties of Object.prototype', () => {
  it('$constructor with a default value is the default, for _entities', async () => {
    const [id] = productIds as [string];
    const query = `query($constructor: [_Any!]! = [{ __typename: "Product", id: "${id}" }]) {
      _entities(representations: $constructor) { ... on Product { id } }
    }`;
    expect(dataOf(await app.gql(query))).toEqual({ _entities: [{ id }] });
    // Sent as a variable, it is the variable.
    const sent = await app.gql(query, { constructor: [{ __typename: 'Product', id: productIds[1] }] });
    expect(dataOf(sent)).toEqual({ _entities: [{ id: productIds[1] }] });
  });

  it('$constructor with a default list is counted at its length, for the cost', async () => {
    const query = `query($constructor: [ID!]! = ${quoted(ids(500))}) { a: products(ids: $constructor) { id } b: products(ids: $constructor) { id } c: products(ids: $constructor) { id } }`;
    await expectCostRefusal(await app.gql(query), 1500);
  });
});
