import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { dataOf, QUIET_BACKGROUND, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';
import { costCounters } from '../helpers/counting.js';
import { rawFetch, type RawResponse } from '../helpers/http.js';
import { insertProducts } from '../helpers/products.js';

/**
 * Text that is not well-formed UTF-16 (a lone surrogate such as "\ud800") cannot
 * be stored faithfully: Postgres would keep U+FFFD instead, so two different skus
 * would become one. Every such argument or variable is BAD_USER_INPUT, before any
 * work, whichever way it arrives.
 */
let app: TestApp;
const errorLogs: string[] = [];

beforeAll(async () => {
  app = await startTestApp(QUIET_BACKGROUND, {
    logDestination: { write: (line: string) => void (/"level":(50|60)/.test(line) && errorLogs.push(line)) },
  });
});
afterAll(async () => {
  await app?.close();
});
const costs = costCounters(() => app);

// JSON.stringify writes a lone surrogate as a \ud800 escape, as any client would.
const post = (payload: unknown, headers: Record<string, string> = {}) =>
  rawFetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(payload) });

async function expectRefused(res: RawResponse): Promise<void> {
  expect({ status: res.status, body: res.text.slice(0, 300) }).toMatchObject({ status: 400 });
  expect(res.json?.errors?.map((e) => e.extensions?.['code'])).toEqual(['BAD_USER_INPUT']);
  expect(res.json?.data ?? null).toBeNull();
  expect(res.text).not.toMatch(/stacktrace|\n\s+at |URIError/);
  await app.running.deps.cache.idle();
  expect(costs.sql.statements).toEqual([]);
  expect(costs.redisTrips.count).toBe(0);
  expect(errorLogs).toEqual([]);
}

const LONE = ['\ud800', '\udfff', 'SKU-\ud83d', '\ude00-SKU', '\udc00\ud800'];

describe('text that is not well-formed UTF-16', () => {
  it('in a variable: BAD_USER_INPUT naming where it is, before any lookup', async () => {
    for (const sku of LONE) {
      const res = await post({ query: 'query($sku: String!) { productBySku(sku: $sku) { id } }', variables: { sku } });
      await expectRefused(res);
      expect(res.json?.errors?.[0]?.message).toMatch(/\$sku/);
    }
  });

  it('deep inside an input object or a list, or as an object key', async () => {
    await expectRefused(
      await post({
        query: 'mutation($input: NewProduct!) { createProduct(input: $input) { id } }',
        variables: { input: { sku: uniqueSku(), name: 'Anvil \ud800', priceCents: 1, stock: 1 } },
      }),
    );
    await expectRefused(
      await post({
        query: 'mutation($changes: [StockChange!]!) { adjustStocks(changes: $changes) { id } }',
        variables: { changes: [{ id: newId(), delta: 1 }, { id: `${newId().slice(0, 35)}\udc00`, delta: 1 }] },
      }),
    );
    await expectRefused(
      await post({
        query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }',
        variables: { r: [{ __typename: 'Product', id: '\ud800' }] },
      }),
    );
    await expectRefused(
      await post({
        query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }',
        variables: { r: [{ __typename: 'Product', id: newId(), ['x\ud800']: 1 }] },
      }),
    );
  });

  it('in a literal argument, raw or as a GraphQL escape', async () => {
    await expectRefused(await post({ query: '{ productBySku(sku: "SKU-\ud800") { id } }' }));
    await expectRefused(await post({ query: '{ productBySku(sku: "SKU-\\ud800") { id } }' }));
    await expectRefused(await post({ query: '{ productBySku(sku: """SKU-\udc00""") { id } }' }));
  });

  it('over GET', async () => {
    const search = new URLSearchParams({
      query: 'query($sku: String!) { productBySku(sku: $sku) { id } }',
      variables: JSON.stringify({ sku: 'SKU-\ud800' }),
    });
    await expectRefused(await rawFetch(`${app.url}?${search}`, { headers: { 'apollo-require-preflight': 'true' } }));
  });

  it('is never written: two skus that differ only in a lone surrogate do not collide as U+FFFD', async () => {
    const base = uniqueSku();
    for (const sku of [`${base}\ud800`, `${base}\udc00`]) {
      await expectRefused(
        await post({
          query: 'mutation($input: NewProduct!) { createProduct(input: $input) { id sku } }',
          variables: { input: { sku, name: 'Collider', priceCents: 1, stock: 1 } },
        }),
      );
    }
  });

  it('while surrogate pairs (emoji) are well-formed text and work', async () => {
    const sku = `${uniqueSku()}-😀`;
    const created = dataOf(
      await app.gql<{ createProduct: { id: string; name: string } }>(
        'mutation($input: NewProduct!) { createProduct(input: $input) { id name } }',
        { input: { sku, name: 'Grinning anvil 😀', priceCents: 1, stock: 1 } },
      ),
    ).createProduct;
    expect(created.name).toBe('Grinning anvil 😀');
    const found = dataOf(await app.gql<{ productBySku: { id: string } }>('query($sku: String!) { productBySku(sku: $sku) { id } }', { sku }));
    expect(found.productBySku.id).toBe(created.id);
    await app.running.deps.cache.idle();
    costs.sql.reset();
    costs.redisTrips.reset();
  });
});

describe('the learned-operation shortcut, which runs no plugin', () => {
  it('reads only canonical ids, so ill-formed text still reaches the plugin and is refused the same way', async () => {
    const [id] = (await insertProducts(app.running.deps.db.knex, 1)) as [string];
    const one = 'query One($id: ID!) { product(id: $id) { id } }';
    const entities = 'query Refs($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }';
    // Answered once through Apollo, these are answered before its pipeline from now on.
    dataOf(await app.gql(one, { id }));
    dataOf(await app.gql(entities, { r: [{ __typename: 'Product', id }] }));
    const before = app.running.server.shortcutAnswers();
    dataOf(await app.gql(one, { id }));
    dataOf(await app.gql(entities, { r: [{ __typename: 'Product', id }] }));
    expect(app.running.server.shortcutAnswers()).toBe(before + 2);
    await app.running.deps.cache.idle();
    costs.sql.reset();
    costs.redisTrips.reset();

    const learned = app.running.server.shortcutAnswers();
    // 36 characters, the length of an id: the shortcut's id check is the one that must refuse it.
    await expectRefused(await post({ query: one, variables: { id: `${id.slice(0, 35)}\ud800` } }));
    await expectRefused(await post({ query: entities, variables: { r: [{ __typename: 'Product', id: '\ud800' }] } }));
    await expectRefused(await post({ query: entities, variables: { r: [{ __typename: 'Product', id: `${id.slice(0, 35)}\udc00` }] } }));
    expect(app.running.server.shortcutAnswers()).toBe(learned);
  });
});
