import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isoTimestamp } from '../../src/entities/pg-text.js';
import { newId } from '../../src/ids.js';
import { codesOf, dataOf, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';

const PRODUCT_FIELDS = 'id sku name priceCents stock version updatedAt';
const ACCOUNT_FIELDS = 'id owner balanceCents version updatedAt';

interface Product {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  stock: number;
  version: number;
  updatedAt: string;
}
interface Account {
  id: string;
  owner: string;
  balanceCents: number;
  version: number;
}

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

async function createProduct(overrides: Partial<{ sku: string; name: string; priceCents: number; stock: number }> = {}) {
  const input = { sku: uniqueSku(), name: 'Anvil', priceCents: 1999, stock: 10, ...overrides };
  const res = await app.gql<{ createProduct: Product }>(
    `mutation($input: NewProduct!) { createProduct(input: $input) { ${PRODUCT_FIELDS} } }`,
    { input },
  );
  return dataOf(res).createProduct;
}

async function createAccount(balanceCents: number, owner = 'Ada') {
  const res = await app.gql<{ createAccount: Account }>(
    `mutation($o: String!, $b: Int!) { createAccount(owner: $o, balanceCents: $b) { ${ACCOUNT_FIELDS} } }`,
    { o: owner, b: balanceCents },
  );
  return dataOf(res).createAccount;
}

const readProduct = async (id: string) =>
  dataOf(await app.gql<{ product: Product | null }>(`query($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`, { id }))
    .product;

describe('products', () => {
  it('creates a product at version 1 with a server-chosen id, and reads it back', async () => {
    const p = await createProduct({ name: 'Zange für Ösen ✓' });
    expect(p).toMatchObject({ name: 'Zange für Ösen ✓', priceCents: 1999, stock: 10, version: 1 });
    expect(p.id).toMatch(/^[0-9a-f-]{36}$/);
    // To the microsecond Postgres keeps, in UTC.
    const stored = (await app.running.deps.db.knex.raw('select updated_at::text as t from products where id = ?', [p.id])) as { rows: { t: string }[] };
    expect(p.updatedAt).toBe(isoTimestamp(stored.rows[0]?.t as string));
    expect(await readProduct(p.id)).toEqual(p);
  });

  it('reads by sku, and follows a sku change at once', async () => {
    const p = await createProduct();
    const bySku = async (sku: string) =>
      dataOf(await app.gql<{ productBySku: Product | null }>(`query($s: String!) { productBySku(sku: $s) { id version } }`, { s: sku }))
        .productBySku;
    expect(await bySku(p.sku)).toEqual({ id: p.id, version: 1 });
    const newSku = uniqueSku('RENAMED');
    dataOf(await app.gql(`mutation($id: ID!, $s: String!) { updateProduct(id: $id, patch: { sku: $s }) { version } }`, { id: p.id, s: newSku }));
    expect(await bySku(p.sku)).toBeNull();
    expect(await bySku(newSku)).toEqual({ id: p.id, version: 2 });
    expect(await bySku(uniqueSku('NOPE'))).toBeNull();
  });

  it('lists products in the order asked, with null where none exists', async () => {
    const a = await createProduct();
    const b = await createProduct();
    const missing = newId();
    const res = await app.gql<{ products: (Product | null)[] }>(`query($ids: [ID!]!) { products(ids: $ids) { id } }`, {
      ids: [b.id, missing, a.id, b.id],
    });
    expect(dataOf(res).products).toEqual([{ id: b.id }, null, { id: a.id }, { id: b.id }]);
  });

  it('updates with and without an expected version; every change adds exactly 1', async () => {
    const p = await createProduct();
    const update = (variables: Record<string, unknown>) =>
      app.gql<{ updateProduct: Product }>(
        `mutation($id: ID!, $patch: ProductPatch!, $v: Int) { updateProduct(id: $id, patch: $patch, expectedVersion: $v) { ${PRODUCT_FIELDS} } }`,
        variables,
      );
    const u1 = dataOf(await update({ id: p.id, patch: { name: 'Bigger anvil', priceCents: 2500 } })).updateProduct;
    expect(u1).toMatchObject({ name: 'Bigger anvil', priceCents: 2500, version: 2, sku: p.sku });
    const u2 = dataOf(await update({ id: p.id, patch: { priceCents: 2600 }, v: 2 })).updateProduct;
    expect(u2.version).toBe(3);
    const conflict = await update({ id: p.id, patch: { priceCents: 1 }, v: 2 });
    expect(codesOf(conflict)).toEqual(['VERSION_CONFLICT']);
    expect(conflict.errors?.[0]?.extensions).toMatchObject({ currentVersion: 3, expectedVersion: 2 });
    expect(await readProduct(p.id)).toMatchObject({ version: 3, priceCents: 2600 });
  });

  it('adjusts stock, refusing to go below zero', async () => {
    const p = await createProduct({ stock: 3 });
    const adjust = (delta: number) =>
      app.gql<{ adjustStock: Product }>(`mutation($id: ID!, $d: Int!) { adjustStock(id: $id, delta: $d) { stock version } }`, {
        id: p.id,
        d: delta,
      });
    expect(dataOf(await adjust(-2)).adjustStock).toEqual({ stock: 1, version: 2 });
    expect(codesOf(await adjust(-2))).toEqual(['INSUFFICIENT_STOCK']);
    expect(dataOf(await adjust(5)).adjustStock).toEqual({ stock: 6, version: 3 });
    expect(await readProduct(p.id)).toMatchObject({ stock: 6, version: 3 });
  });

  it('adjusts many stocks in one transaction, all or nothing', async () => {
    const a = await createProduct({ stock: 5 });
    const b = await createProduct({ stock: 1 });
    const run = (changes: { id: string; delta: number }[]) =>
      app.gql<{ adjustStocks: Product[] }>(`mutation($c: [StockChange!]!) { adjustStocks(changes: $c) { id stock version } }`, {
        c: changes,
      });
    const failed = await run([
      { id: a.id, delta: -1 },
      { id: b.id, delta: -2 },
    ]);
    expect(codesOf(failed)).toEqual(['INSUFFICIENT_STOCK']);
    expect(await readProduct(a.id)).toMatchObject({ stock: 5, version: 1 });
    const ok = dataOf(await run([{ id: b.id, delta: 4 }, { id: a.id, delta: -5 }])).adjustStocks;
    expect(ok).toEqual([
      { id: b.id, stock: 5, version: 2 },
      { id: a.id, stock: 0, version: 2 },
    ]);
    expect(codesOf(await run([{ id: a.id, delta: 1 }, { id: newId(), delta: 1 }]))).toEqual(['NOT_FOUND']);
    expect(codesOf(await run([{ id: a.id, delta: 1 }, { id: a.id, delta: 1 }]))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await run([]))).toEqual(['BAD_USER_INPUT']);
    expect(await readProduct(a.id)).toMatchObject({ stock: 0, version: 2 });
  });

  it('deletes, then reads null; a second delete answers false', async () => {
    const p = await createProduct();
    const del = async () => dataOf(await app.gql<{ deleteProduct: boolean }>(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: p.id })).deleteProduct;
    expect(await readProduct(p.id)).not.toBeNull();
    expect(await del()).toBe(true);
    expect(await readProduct(p.id)).toBeNull();
    expect(await del()).toBe(false);
    expect(codesOf(await app.gql(`mutation($id: ID!) { adjustStock(id: $id, delta: 1) { id } }`, { id: p.id }))).toEqual(['NOT_FOUND']);
  });

  it('serves the committed version to the next read, from the cache', async () => {
    const p = await createProduct();
    const res = await app.gql<{ adjustStock: Product; product: Product }>(
      `mutation($id: ID!) { adjustStock(id: $id, delta: 1) { version } }`,
      { id: p.id },
    );
    expect(dataOf(res).adjustStock.version).toBe(2);
    expect((await readProduct(p.id))?.version).toBe(2);
  });
});

describe('accounts', () => {
  it('creates accounts and transfers between them', async () => {
    const a = await createAccount(10_000);
    const b = await createAccount(0, 'Grace');
    expect(a.version).toBe(1);
    const res = await app.gql<{ transfer: { from: Account; to: Account; amountCents: number } }>(
      `mutation($f: ID!, $t: ID!, $x: Int!) { transfer(fromId: $f, toId: $t, amountCents: $x) { amountCents from { ${ACCOUNT_FIELDS} } to { ${ACCOUNT_FIELDS} } } }`,
      { f: a.id, t: b.id, x: 2_500 },
    );
    const t = dataOf(res).transfer;
    expect(t.amountCents).toBe(2_500);
    expect(t.from).toMatchObject({ id: a.id, balanceCents: 7_500, version: 2 });
    expect(t.to).toMatchObject({ id: b.id, balanceCents: 2_500, version: 2, owner: 'Grace' });
    const read = dataOf(
      await app.gql<{ accounts: Account[]; account: Account }>(`query($ids: [ID!]!, $id: ID!) { accounts(ids: $ids) { id balanceCents version } account(id: $id) { owner } }`, {
        ids: [b.id, a.id],
        id: a.id,
      }),
    );
    expect(read.accounts).toEqual([
      { id: b.id, balanceCents: 2_500, version: 2 },
      { id: a.id, balanceCents: 7_500, version: 2 },
    ]);
    expect(read.account.owner).toBe('Ada');
  });

  it('refuses what would break the books, changing nothing', async () => {
    const a = await createAccount(100);
    const b = await createAccount(100);
    const transfer = (f: string, t: string, x: number) =>
      app.gql(`mutation($f: ID!, $t: ID!, $x: Int!) { transfer(fromId: $f, toId: $t, amountCents: $x) { amountCents } }`, { f, t, x });
    expect(codesOf(await transfer(a.id, b.id, 101))).toEqual(['INSUFFICIENT_FUNDS']);
    expect(codesOf(await transfer(a.id, b.id, 0))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await transfer(a.id, b.id, -5))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await transfer(a.id, a.id, 5))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await transfer(a.id, newId(), 5))).toEqual(['NOT_FOUND']);
    expect(codesOf(await transfer(newId(), a.id, 5))).toEqual(['NOT_FOUND']);
    const read = dataOf(await app.gql<{ accounts: Account[] }>(`query($ids: [ID!]!) { accounts(ids: $ids) { balanceCents version } }`, { ids: [a.id, b.id] }));
    expect(read.accounts).toEqual([
      { balanceCents: 100, version: 1 },
      { balanceCents: 100, version: 1 },
    ]);
  });
});

describe('errors', () => {
  it('answers BAD_USER_INPUT for malformed input, with no stack trace', async () => {
    const cases: [string, Record<string, unknown>][] = [
      ['query($id: ID!) { product(id: $id) { id } }', { id: 'not-an-id' }],
      ["query($id: ID!) { product(id: $id) { id } }", { id: "1' or '1'='1" }],
      ['query($ids: [ID!]!) { products(ids: $ids) { id } }', { ids: Array.from({ length: 501 }, () => newId()) }],
      ['query($ids: [ID!]!) { accounts(ids: $ids) { id } }', { ids: ['x'] }],
      ['mutation($i: NewProduct!) { createProduct(input: $i) { id } }', { i: { sku: uniqueSku(), name: 'x', priceCents: -1, stock: 1 } }],
      ['mutation($i: NewProduct!) { createProduct(input: $i) { id } }', { i: { sku: uniqueSku(), name: 'x', priceCents: 1, stock: -1 } }],
      ['mutation($i: NewProduct!) { createProduct(input: $i) { id } }', { i: { sku: uniqueSku(), name: 'x'.repeat(201), priceCents: 1, stock: 1 } }],
      ['mutation($i: NewProduct!) { createProduct(input: $i) { id } }', { i: { sku: '', name: 'x', priceCents: 1, stock: 1 } }],
      ['mutation($i: NewProduct!) { createProduct(input: $i) { id } }', { i: { sku: uniqueSku(), name: 'x', priceCents: 2 ** 31, stock: 1 } }],
      ['mutation($id: ID!) { updateProduct(id: $id, patch: {}) { id } }', { id: newId() }],
      ['mutation($id: ID!) { updateProduct(id: $id, patch: { name: null }) { id } }', { id: newId() }],
      ['mutation($id: ID!) { updateProduct(id: $id, patch: { priceCents: -3 }) { id } }', { id: newId() }],
      ['mutation($id: ID!) { adjustStock(id: $id, delta: 0) { id } }', { id: newId() }],
      ['mutation { createAccount(owner: "x", balanceCents: -1) { id } }', {}],
      ['mutation { createAccount(owner: "", balanceCents: 1) { id } }', {}],
    ];
    for (const [query, variables] of cases) {
      const res = await app.gql(query, variables);
      expect(codesOf(res), `${query} ${JSON.stringify(variables).slice(0, 80)}`).toEqual(['BAD_USER_INPUT']);
      expect(JSON.stringify(res.errors)).not.toMatch(/stacktrace|at .*\.ts:/);
    }
  });

  it('reads a well-formed id that does not exist as null', async () => {
    expect(await readProduct(newId())).toBeNull();
    const res = await app.gql<{ account: null }>(`query($id: ID!) { account(id: $id) { id } }`, { id: newId() });
    expect(dataOf(res).account).toBeNull();
  });

  it('answers NOT_FOUND for mutations on missing rows', async () => {
    const id = newId();
    expect(codesOf(await app.gql(`mutation($id: ID!) { updateProduct(id: $id, patch: { name: "x" }) { id } }`, { id }))).toEqual(['NOT_FOUND']);
    expect(codesOf(await app.gql(`mutation($id: ID!) { updateProduct(id: $id, patch: { name: "x" }, expectedVersion: 1) { id } }`, { id }))).toEqual(['NOT_FOUND']);
    expect(codesOf(await app.gql(`mutation($id: ID!) { adjustStock(id: $id, delta: -1) { id } }`, { id }))).toEqual(['NOT_FOUND']);
  });

  it('answers ALREADY_EXISTS for a duplicate sku, on create and on rename', async () => {
    const p = await createProduct();
    const q = await createProduct();
    const dup = await app.gql(`mutation($i: NewProduct!) { createProduct(input: $i) { id } }`, {
      i: { sku: p.sku, name: 'again', priceCents: 1, stock: 1 },
    });
    expect(codesOf(dup)).toEqual(['ALREADY_EXISTS']);
    const rename = await app.gql(`mutation($id: ID!, $s: String!) { updateProduct(id: $id, patch: { sku: $s }) { id } }`, { id: q.id, s: p.sku });
    expect(codesOf(rename)).toEqual(['ALREADY_EXISTS']);
    expect(await readProduct(q.id)).toMatchObject({ sku: q.sku, version: 1 });
  });

  it('reports GraphQL-level mistakes with their standard codes', async () => {
    expect(codesOf(await app.gql('{ product(id: "x") { nope } }'))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codesOf(await app.gql('{ product(id: '))).toEqual(['GRAPHQL_PARSE_FAILED']);
    const res = await app.gql('query($id: ID!) { product(id: $id) { id } }', {});
    expect(res.status).toBe(400);
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
  });
});
