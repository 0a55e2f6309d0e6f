import {
  buildSchema as buildSdlSchema,
  getIntrospectionQuery,
  getVariableValues,
  parse,
  validate,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { LIST_BOUNDS } from '../../src/list-bounds.js';
import { checkListBounds, costLimitPlugin, operationCost, type ListBounds } from '../../src/plugins/cost-limit.js';
import { buildSchema } from '../../src/server.js';
import { ROOT_FIELD_CASES } from '../helpers/root-fields.js';

// A recursive schema with every kind of list: by argument, by bound, a connection.
const toy = buildSdlSchema(`
  type Node {
    id: ID!
    child: Node
    children: [Node!]!
    kids(ids: [ID!]): [Node!]!
    page(first: Int = 20, after: String): NodeConnection!
  }
  type NodeConnection { edges: [NodeEdge!]! nodes: [Node!]! pageInfo: PageInfo! totalCount: Int! }
  type NodeEdge { cursor: String! node: Node! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type Query { node(id: ID!): Node nodes(ids: [ID!]!, more: [ID!]): [Node]! }
  type Mutation { touch(ids: [ID!]!): Node! }
`);
const TOY_BOUNDS: ListBounds = { fields: new Map([['Node.children', 10]]), maxPage: 100 };

function costIn(schema: GraphQLSchema, bounds: ListBounds, source: string, inputs: Record<string, unknown> = {}): number {
  const document = parse(source);
  const errors = validate(schema, document);
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join('; '));
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
  if (!operation) throw new Error('no operation');
  const { coerced, errors: coercion } = getVariableValues(schema, operation.variableDefinitions ?? [], inputs);
  if (coercion) throw new Error(coercion.map((e) => e.message).join('; '));
  return operationCost({ schema, ...bounds }, document, operation, coerced);
}
const costOf = (source: string, inputs?: Record<string, unknown>) => costIn(toy, TOY_BOUNDS, source, inputs);

describe('cost', () => {
  it('is 1 per object, 0 per scalar, at least 1 per root field', () => {
    expect(costOf('{ node(id: 1) { id } }')).toBe(1);
    expect(costOf('{ node(id: 1) { id child { id child { id } } } }')).toBe(3);
    expect(costOf('{ __typename }')).toBe(1);
    expect(costOf('{ a: __typename b: node(id: 1) { __typename } }')).toBe(2);
  });

  it('multiplies what a list selects by the length of its list arguments', () => {
    expect(costOf('{ nodes(ids: [1, 2, 3]) { id } }')).toBe(3);
    expect(costOf('{ nodes(ids: [1, 2, 3], more: [4, 5]) { id } }')).toBe(5);
    expect(costOf('{ nodes(ids: [1, 2]) { child { id } } }')).toBe(2 * (1 + 1));
    expect(costOf('{ nodes(ids: []) { id } }')).toBe(1);
    // A field that returns one object costs the lists it is given: the rows it touches.
    expect(costOf('mutation { touch(ids: [1, 2, 3]) { id child { id } } }')).toBe(3 + 1);
  });

  it('multiplies by the bound of a list without a list argument, at every level', () => {
    expect(costOf('{ node(id: 1) { children { id } } }')).toBe(1 + 10);
    expect(costOf('{ nodes(ids: [1, 2]) { children { children { id } } } }')).toBe(2 * (1 + 10 * (1 + 10)));
    expect(costOf('{ node(id: 1) { kids(ids: [1, 2, 3]) { children { id } } } }')).toBe(1 + 3 * (1 + 10));
  });

  it('counts a connection as its page of rows, once for edges and nodes, and what each selects below the row', () => {
    expect(costOf('{ node(id: 1) { page(first: 10) { totalCount nodes { id } } } }')).toBe(1 + 1 + 10);
    expect(costOf('{ node(id: 1) { page(first: 10) { totalCount nodes { id } edges { cursor node { id } } } } }')).toBe(1 + 1 + 10);
    // pageInfo is an object of its own.
    expect(costOf('{ node(id: 1) { page(first: 10) { pageInfo { hasNextPage } } } }')).toBe(1 + 1 + 10 + 1);
    expect(costOf('{ node(id: 1) { page(first: 10) { nodes { children { id } } edges { node { child { id } } } } } }')).toBe(1 + 1 + 10 + 10 * 10 + 10 * 1);
  });

  it('takes a page from the coerced `first`: null or absent is its default, more than maxPage is maxPage', () => {
    const page = (first: string) => costOf(`{ node(id: 1) { page${first} { nodes { id } } } }`);
    expect(page('')).toBe(1 + 1 + 20);
    expect(page('(first: null)')).toBe(1 + 1 + 20);
    expect(page('(first: 0)')).toBe(1 + 1);
    expect(page('(first: 1000)')).toBe(1 + 1 + 100);
    expect(page('(first: -5)')).toBe(1 + 1);
    const query = 'query($n: Int) { node(id: 1) { page(first: $n) { nodes { id } } } }';
    expect(costOf(query, { n: 50 })).toBe(1 + 1 + 50);
    expect(costOf(query, {})).toBe(1 + 1 + 20);
    expect(costOf(query, { n: null })).toBe(1 + 1 + 20);
    expect(costOf('query($n: Int = 70) { node(id: 1) { page(first: $n) { nodes { id } } } }')).toBe(1 + 1 + 70);
  });

  it('reads variables as execution coerces them: defaults included, a single value as a list of one', () => {
    const query = 'query($ids: [ID!]!) { nodes(ids: $ids) { id child { id } } }';
    expect(costOf(query, { ids: Array.from({ length: 500 }, (_, i) => i) })).toBe(500 * 2);
    expect(costOf(query, { ids: [] })).toBe(1);
    expect(costOf(query, { ids: 'one' })).toBe(2);
    const defaulted = `query($ids: [ID!]! = [${Array.from({ length: 500 }, (_, i) => i).join(', ')}]) { a: nodes(ids: $ids) { id } b: nodes(ids: $ids) { id } }`;
    expect(costOf(defaulted)).toBe(1000);
    expect(costOf(defaulted, { ids: [1] })).toBe(2);
  });

  it('reads only the own properties of variables: $constructor with its default costs its default', () => {
    const query = 'query($constructor: [ID!]! = [1, 2, 3], $toString: [ID!] = [4]) { nodes(ids: $constructor, more: $toString) { id } }';
    expect(costOf(query)).toBe(4);
    expect(costOf(query, { constructor: [1] })).toBe(2);
  });

  it('counts fragments once per spread, in the context they are spread in', () => {
    const query = 'query($ids: [ID!]!) { ...F ... { ...F } } fragment F on Query { nodes(ids: $ids) { id } }';
    expect(costOf(query, { ids: [1, 2, 3, 4] })).toBe(2 * 4);
    // The same fragment of a connection, inside pages of two sizes.
    const pages = '{ node(id: 1) { a: page(first: 2) { ...P } b: page(first: 30) { ...P } } } fragment P on NodeConnection { nodes { children { id } } }';
    expect(costOf(pages)).toBe(1 + (1 + 2 + 2 * 10) + (1 + 30 + 30 * 10));
    const levels = 40;
    const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');
    const began = Date.now();
    expect(costOf(`{ ...F0 } ${fragments} fragment F${levels} on Query { __typename }`)).toBe(2 ** levels);
    expect(Date.now() - began).toBeLessThan(100);
  });

  it('ends on fragments that spread themselves (validation refuses them; the walk must still end)', () => {
    const document = parse('{ ...A } fragment A on Query { node(id: 1) { id } ...B } fragment B on Query { ...A }');
    const operation = document.definitions[0] as OperationDefinitionNode;
    expect(operationCost({ schema: toy, ...TOY_BOUNDS }, document, operation, {})).toBe(1);
  });

  it('prices introspection at 1 per root field: it reads the schema, not data', () => {
    expect(costOf(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }))).toBe(1);
    expect(costOf('{ __type(name: "Node") { fields { name } } }')).toBe(1);
  });
});

describe('list bounds', () => {
  it('refuses a schema with a list that nothing bounds, naming it', () => {
    expect(() => checkListBounds(toy, TOY_BOUNDS)).not.toThrow();
    expect(() => checkListBounds(toy, { ...TOY_BOUNDS, fields: new Map() })).toThrow(/Node\.children is a list with no bound/);
    expect(() => checkListBounds(toy, { ...TOY_BOUNDS, fields: new Map([...TOY_BOUNDS.fields, ['Node.child', 3], ['Node.gone', 3]]) })).toThrow(
      /name Node\.child, which is not a list field.*name Node\.gone/,
    );
    const odd = buildSdlSchema(`
      type ThingConnection { edges: [ThingEdge!]! pageInfo: PageInfo! }
      type ThingEdge { cursor: String! node: Query }
      type PageInfo { hasNextPage: Boolean! }
      type Query { things: ThingConnection! grid(ids: [ID!]): [[Int]] }
    `);
    expect(() => checkListBounds(odd, TOY_BOUNDS)).toThrow(/Query\.things returns a connection but takes no `first: Int`.*Query\.grid is a list of lists/);
  });

  it('fails the server start through the plugin', async () => {
    const plugin = costLimitPlugin({ ...TOY_BOUNDS, fields: new Map() });
    await expect(plugin.serverWillStart?.({ schema: toy } as never)).rejects.toThrow(/Node\.children/);
  });

  it('bounds every list of the served schema; a new list field without a bound is refused at start', () => {
    const schema = buildSchema();
    expect(() => checkListBounds(schema, LIST_BOUNDS)).not.toThrow();
    const withoutLines = new Map(LIST_BOUNDS.fields);
    withoutLines.delete('Order.lines');
    expect(() => checkListBounds(schema, { ...LIST_BOUNDS, fields: withoutLines })).toThrow(/Order\.lines is a list with no bound/);
  });
});

describe('cost of the served schema', () => {
  const schema = buildSchema();
  const cost = (source: string, inputs?: Record<string, unknown>) => costIn(schema, LIST_BOUNDS, source, inputs);
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `id-${i}`);

  it.each(ROOT_FIELD_CASES.map((c) => [c.field, c] as const))('prices %s', (_, c) => {
    expect(cost(c.query, c.variables)).toBe(c.cost);
  });

  it('has a priced case for every root field', () => {
    const fields = [schema.getQueryType(), schema.getMutationType()].flatMap((type) =>
      Object.keys(type?.getFields() ?? {}).map((name) => `${type?.name}.${name}`),
    );
    expect(ROOT_FIELD_CASES.map((c) => c.field).sort()).toEqual(fields.sort());
  });

  it('keeps the simple figures: a list of 500 costs 500, and 50 accounts with a page of 10 orders each fit the default limit', () => {
    expect(cost('query($ids: [ID!]!) { products(ids: $ids) { id name } }', { ids: ids(500) })).toBe(500);
    expect(cost('query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }', { r: ids(7).map((id) => ({ __typename: 'Product', id })) })).toBe(7);
    expect(cost('mutation($c: [StockChange!]!) { adjustStocks(changes: $c) { id } }', { c: ids(9).map((id) => ({ id, delta: 1 })) })).toBe(9);
    const accounts = 'query($ids: [ID!]!) { accounts(ids: $ids) { orders(first: 10) { totalCount nodes { id totalCents } } } }';
    expect(cost(accounts, { ids: ids(50) })).toBeLessThanOrEqual(1000);
  });

  it("multiplies an order's lines: 500 orders of up to 100 lines each cost 101,000", () => {
    const query = `{ orders(ids: [${ids(500).map((id) => `"${id}"`).join(',')}]) { id lines { quantity product { id name } } account { id } } }`;
    expect(cost(query)).toBe(500 * (1 + 100 * (1 + 1) + 1));
  });

  it('multiplies through connections and the lists inside them', () => {
    expect(cost('{ productCatalog(first: 100) { nodes { categories { products(first: 100) { nodes { id } } } } } }')).toBe(
      1 + 100 + 100 * (50 * (1 + 1 + 100)),
    );
  });
});
