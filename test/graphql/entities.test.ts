import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { codesOf, dataOf, startTestApp, type TestApp, QUIET_BACKGROUND } from '../helpers/app.js';
import { costCounters } from '../helpers/counting.js';
import { insertProducts } from '../helpers/products.js';

// What a router sends: one `_entities` field, the representations as a variable.
const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Product { id sku version }
    ... on Account { id owner version }
  }
}`;

type Entity = { __typename: string; id: string; version: number } | null;

let app: TestApp;
let ids: string[];

const productRefs = (list: readonly string[]) => list.map((id) => ({ __typename: 'Product', id }));
const entities = (representations: unknown) => app.gql<{ _entities: Entity[] }>(ENTITIES, { representations });

beforeAll(async () => {
  app = await startTestApp(QUIET_BACKGROUND);
  ids = await insertProducts(app.running.deps.db.knex, 100);
});
afterAll(async () => {
  await app?.close();
});
const costs = costCounters(() => app);

describe('_entities', () => {
  it('resolves 100 product representations with 1 SELECT when cold and 1 Redis round trip when warm', async () => {
    await app.redis.del(...ids.map((id) => `${app.prefix}:{Product:${id}}`));
    const cold = dataOf(await entities(productRefs(ids)))._entities;
    expect(cold.map((e) => e?.id)).toEqual(ids);
    expect(cold.every((e) => e?.__typename === 'Product' && e.version === 1)).toBe(true);
    await app.running.deps.cache.idle();
    expect(costs.sql.statements).toHaveLength(1);
    expect(costs.sql.statements[0]).toMatch(/^select .* from "products" where "id" = any/);

    costs.sql.reset();
    costs.redisTrips.reset();
    const warm = dataOf(await entities(productRefs(ids)))._entities;
    expect(warm).toEqual(cold);
    await app.running.deps.cache.idle();
    expect(costs.redisTrips.count).toBe(1);
    expect(costs.sql.count).toBe(0);
  });

  it('resolves products and accounts in one call, in order, still 1 Redis round trip when warm', async () => {
    const account = dataOf(
      await app.gql<{ createAccount: { id: string } }>(`mutation { createAccount(owner: "Ada", balanceCents: 5) { id } }`),
    ).createAccount;
    const representations = [{ __typename: 'Account', id: account.id }, ...productRefs(ids.slice(0, 3))];
    await entities(representations);
    await app.running.deps.cache.idle();
    costs.redisTrips.reset();
    costs.sql.reset();
    const res = dataOf(await entities(representations))._entities;
    expect(res.map((e) => [e?.__typename, e?.id])).toEqual(representations.map((r) => [r.__typename, r.id]));
    expect(costs.redisTrips.count).toBe(1);
    expect(costs.sql.count).toBe(0);
  });

  it('resolves unknown, malformed and missing ids to null', async () => {
    const [known] = ids as [string];
    const res = dataOf(
      await entities([
        { __typename: 'Product', id: newId() },
        { __typename: 'Product', id: known.toUpperCase() },
        { __typename: 'Product', id: 'not-an-id' },
        { __typename: 'Product', id: "1' or '1'='1" },
        { __typename: 'Product', id: 42 },
        { __typename: 'Product' },
        { __typename: 'Account', id: newId() },
      ]),
    )._entities;
    expect(res).toEqual([null, { __typename: 'Product', id: known, sku: expect.any(String), version: 1 }, null, null, null, null, null]);
  });

  it('accepts 500 representations and refuses 501 with BAD_USER_INPUT, before touching the cache or the database', async () => {
    const five = [...ids, ...ids, ...ids, ...ids, ...ids];
    expect(dataOf(await entities(productRefs(five)))._entities).toHaveLength(500);

    await app.running.deps.cache.idle();
    costs.redisTrips.reset();
    costs.sql.reset();
    const refused = await entities(productRefs([...five, newId()]));
    expect(refused.status).toBe(200);
    expect(codesOf(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors?.[0]?.message).toMatch(/501 representations; at most 500/);
    expect(refused.data ?? null).toBeNull();
    expect(costs.redisTrips.count).toBe(0);
    expect(costs.sql.count).toBe(0);
  });

  it('counts every _entities field of the request, aliases and inline lists included', async () => {
    const inline = productRefs(ids.slice(0, 2))
      .map((r) => `{ __typename: "Product", id: "${r.id}" }`)
      .join(', ');
    const query = `query($r: [_Any!]!) {
      a: _entities(representations: $r) { __typename }
      b: _entities(representations: $r) { __typename }
      c: _entities(representations: [${inline}]) { __typename }
    }`;
    // 2 x 249 + 2 = 500 is fine; 2 x 250 + 2 = 502 is not.
    const r = productRefs([...ids, ...ids, ...ids.slice(0, 50)]);
    const ok = await app.gql(query, { r: r.slice(0, 249) });
    expect(codesOf(ok)).toEqual([]);
    const refused = await app.gql(query, { r });
    expect(codesOf(refused)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers BAD_USER_INPUT, not an internal error, for a representation of no entity type', async () => {
    for (const representations of [[{ __typename: 'Transfer', id: newId() }], [{ id: newId() }], ['Product'], [[1]]]) {
      const res = await entities(representations);
      expect(codesOf(res), JSON.stringify(representations)).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe('_service', () => {
  it('serves the SDL exactly as written in schema/ (every file, in name order)', async () => {
    const res = dataOf(await app.gql<{ _service: { sdl: string } }>('{ _service { sdl } }'));
    const dir = new URL('../../schema/', import.meta.url);
    const files = readdirSync(dir).filter((name) => name.endsWith('.graphql')).sort();
    expect(res._service.sdl).toBe(files.map((name) => readFileSync(new URL(name, dir), 'utf8')).join('\n'));
  });
});
