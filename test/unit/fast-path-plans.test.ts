import { buildSchema as buildSdl, getVariableValues, Kind, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../../src/context.js';
import { asId, defineEntity, int, text } from '../../src/entities/define.js';
import { ENTITIES, LISTS } from '../../src/entities/index.js';
import { planCost } from '../../src/fast-path/cost.js';
import { FALL_THROUGH, run } from '../../src/fast-path/execute.js';
import { plan, type Plan } from '../../src/fast-path/plan.js';
import { routesOf } from '../../src/fast-path/routes.js';
import { servableOf } from '../../src/fast-path/servable.js';
import { LIST_BOUNDS } from '../../src/list-bounds.js';
import { operationCost } from '../../src/plugins/cost-limit.js';
import { buildSchema } from '../../src/server.js';

const operationOf = (query: string): OperationDefinitionNode => {
  const definition = parse(query).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (definition?.kind !== Kind.OPERATION_DEFINITION) throw new Error('no operation');
  return definition;
};

// A type whose key is an integer (none of the shop's types has one): the fast path reads it by its parseKey.
const widget = defineEntity({
  type: 'Widget',
  table: 'widgets',
  columns: { id: asId(int()), name: text(), version: int() },
  roots: { one: 'widget', many: 'widgets' },
});
const WIDGET_SDL = `
  scalar _Any
  type Widget { id: ID! name: String! version: Int! }
  union _Entity = Widget
  type Query { widget(id: ID!): Widget  widgets(ids: [ID!]!): [Widget]!  _entities(representations: [_Any!]!): [_Entity]! }
`;

describe('the fast path on a type with an integer key', () => {
  const servable = servableOf(buildSdl(WIDGET_SDL), routesOf([widget as never]), [], { fields: new Map(), maxPage: 100 });
  const planOf = (query: string): Plan => {
    const p = plan(operationOf(query), servable);
    if (p === null) throw new Error(`not planned: ${query}`);
    return p;
  };
  /** A context whose only loader read answers every key with a row, recording what was asked. */
  const reading = () => {
    const asked: string[][] = [];
    const context = {
      loaders: {
        read: async (_: unknown, ids: readonly string[]) => {
          asked.push([...ids]);
          return ids.map((id) => ({ id, name: `w${id}`, version: 1 }));
        },
      },
    } as unknown as RequestContext;
    return { asked, context };
  };

  it('reads a key in its canonical form, as the resolver does', async () => {
    const { asked, context } = reading();
    expect(await run(planOf('query($id: ID!) { widget(id: $id) { id name } }'), context, { id: '042' })).toEqual({ id: '42', name: 'w42' });
    expect(asked).toEqual([['42']]);
  });

  it('reads each distinct key of a list once', async () => {
    const { asked, context } = reading();
    const rows = (await run(planOf('{ widgets(ids: ["1", "2", "01"]) { id } }'), context, undefined)) as { id: string }[];
    expect(rows.map((r) => r.id)).toEqual(['1', '2', '1']);
    expect(asked).toEqual([['1', '2']]);
  });

  it('resolves a representation by its key, a number as __resolveReference takes it', async () => {
    const { asked, context } = reading();
    const p = planOf('query($r: [_Any!]!) { _entities(representations: $r) { ... on Widget { id } } }');
    const value = await run(p, context, { r: [{ __typename: 'Widget', id: 7 }, { __typename: 'Widget', id: 'seven' }] });
    expect(value).toEqual([{ id: '7' }, null]);
    expect(asked).toEqual([['7']]);
  });

  it('leaves a key that is no integer (a uuid, say) to execution, which refuses it', async () => {
    const { asked, context } = reading();
    const p = planOf('query($id: ID!) { widget(id: $id) { id } }');
    for (const id of ['0198f1b2-7c3e-7a11-8000-000000000000', '1.5', '99999999999', '']) {
      await expect(run(p, context, { id })).rejects.toBe(FALL_THROUGH);
    }
    expect(asked).toEqual([]);
  });
});

describe("a plan's cost", () => {
  const schema = buildSchema();
  const servable = servableOf(schema, routesOf(ENTITIES), LISTS, LIST_BOUNDS);
  const id = '0198f1b2-7c3e-7a11-8000-000000000000';

  it.each([
    ['query($id: ID!) { product(id: $id) { id name } }', { id }],
    ['query($ids: [ID!]!) { products(ids: $ids) { id categories { id name } } }', { ids: [id, id, id] }],
    ['query AccountOrders($id: ID!) { account(id: $id) { orders(first: 10) { nodes { id totalCents } } } }', { id }],
    ['query($id: ID!, $first: Int) { account(id: $id) { orders(first: $first) { totalCount pageInfo { hasNextPage } edges { cursor node { id account { owner } } } nodes { id } } } }', { id, first: 7 }],
    ['query($id: ID!, $first: Int) { account(id: $id) { orders(first: $first) { nodes { id } } } }', { id, first: null }],
    ['query($id: ID!, $first: Int) { account(id: $id) { orders(first: $first) { nodes { id } } } }', { id }],
    ['query($id: ID!) { account(id: $id) { orders { totalCount } } }', { id }],
    ['query($ids: [ID!]!, $first: Int!) { accounts(ids: $ids) { a: orders(first: $first) { nodes { id } } b: orders(first: 2) { edges { node { account { id } } } } } }', { ids: [id, id], first: 30 }],
    ['query($c: ID!, $after: String) { category(id: $c) { products(first: 5, after: $after) { nodes { id categories { slug } } } } }', { c: id, after: null }],
    ['{ productCatalog(first: 100) { edges { cursor node { id categories { name } } } } }', {}],
    ['query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { orders(first: 3) { nodes { id } } } ... on Product { categories { id } } } }', { r: [{ __typename: 'Account', id }, { __typename: 'Product', id }] }],
  ] as const)('of %s is what the cost limit counts', (query, variables) => {
    const operation = operationOf(query);
    const p = plan(operation, servable);
    expect(p).not.toBeNull();
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
    expect(coerced.errors).toBeUndefined();
    const expected = operationCost({ ...LIST_BOUNDS, schema }, parse(query), operation, coerced.coerced ?? {});
    expect(planCost(p as Plan, variables)).toBe(expected);
  });
});
