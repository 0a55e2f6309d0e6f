import { buildSchema, getIntrospectionQuery, parse, validate, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationCost } from '../../src/plugins/cost-limit.js';
import { measureOperations, recodeTokenLimit, shapeLimitsRule } from '../../src/plugins/query-limits.js';

// A recursive schema, so that depth can be exceeded by a valid operation.
const schema = buildSchema(`
  type Node { id: ID! child: Node children(ids: [ID!]): [Node!]! }
  type Query { node(id: ID!): Node nodes(ids: [ID!]!, more: [ID!]): [Node]! }
`);

const shapeOf = (source: string) => measureOperations(parse(source))[0]?.shape;
const costOf = (source: string, variables?: Record<string, unknown>) => {
  const document = parse(source);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
  if (!operation) throw new Error('no operation');
  return operationCost(document, operation, variables);
};
const limitErrors = (source: string, limits = { maxDepth: 3, maxAliases: 2, maxDirectives: 2 }) =>
  validate(schema, parse(source), [shapeLimitsRule(limits)]).map((e) => e.extensions['limit']);

describe('shape limits', () => {
  it('measures depth, aliases and directives with fragments expanded', () => {
    expect(shapeOf('{ node(id: 1) { id } }')).toEqual({ depth: 2, aliases: 0, directives: 0 });
    expect(shapeOf('{ a: node(id: 1) { child { child { id } } } }')).toEqual({ depth: 4, aliases: 1, directives: 0 });
    expect(shapeOf('query { node(id: 1) { ...F ... on Node { x: id @skip(if: false) } } } fragment F on Node { child { y: id } }')).toEqual({
      depth: 3,
      aliases: 2,
      directives: 1,
    });
    // A fragment spread twice counts twice (its own @c too); directives on spreads and the operation count.
    expect(shapeOf('query Q @a { node(id: 1) { ...F @b ...F } } fragment F on Node @c { x: id }')).toEqual({ depth: 2, aliases: 2, directives: 4 });
  });

  it('does not count introspection fields towards depth', () => {
    expect(shapeOf('{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }')?.depth).toBe(0);
    expect(measureOperations(parse(getIntrospectionQuery()))[0]?.shape.depth).toBe(0);
    expect(shapeOf('{ node(id: 1) { __typename } }')?.depth).toBe(1);
  });

  it('survives cycles and exponential spreads without walking them', () => {
    expect(shapeOf('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }')).toBeDefined();
    const levels = 60;
    const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Node { ...F${i + 1} ...F${i + 1} }`).join(' ');
    const began = Date.now();
    const shape = shapeOf(`{ node(id: 1) { ...F0 } } ${fragments} fragment F${levels} on Node { x: id }`);
    expect(Date.now() - began).toBeLessThan(100);
    expect(shape?.aliases).toBe(2 ** levels);
  });

  it('reports each exceeded limit by name', () => {
    expect(limitErrors('{ node(id: 1) { child { id } } }')).toEqual([]);
    expect(limitErrors('{ node(id: 1) { child { child { id } } } }')).toEqual(['MAX_DEPTH']);
    expect(limitErrors('{ a: node(id: 1) { id } b: node(id: 2) { id } c: node(id: 3) { x: id } }')).toEqual(['MAX_ALIASES']);
    expect(limitErrors('{ node(id: 1) @skip(if: false) { id @skip(if: false) child @include(if: true) { id } } }')).toEqual(['MAX_DIRECTIVES']);
  });
});

describe('cost', () => {
  it('is 1 per field, or the length of its list arguments', () => {
    expect(costOf('{ node(id: 1) { id } }')).toBe(2);
    expect(costOf('{ nodes(ids: [1, 2, 3]) { id } }')).toBe(4);
    expect(costOf('{ nodes(ids: [1, 2, 3], more: [4, 5]) { id } }')).toBe(6);
    expect(costOf('{ nodes(ids: []) { id } }')).toBe(2);
  });

  it('reads list variables per request', () => {
    const query = 'query($ids: [ID!]!) { nodes(ids: $ids) { id child { id } } }';
    // nodes: 500, id, child, child.id: 1 each.
    expect(costOf(query, { ids: Array.from({ length: 500 }, (_, i) => i) })).toBe(503);
    expect(costOf(query, { ids: [] })).toBe(4);
    expect(costOf(query, { ids: 'one' })).toBe(4);
    expect(costOf(query, {})).toBe(4);
    expect(costOf('query($a: [ID!]!) { nodes(ids: $a, more: [1, 2]) { id } }', { a: [1, 2, 3] })).toBe(6);
  });

  it('counts fragments once per spread, also with variables inside', () => {
    const query = 'query($ids: [ID!]!) { ...F ... { ...F } } fragment F on Query { nodes(ids: $ids) { id } }';
    expect(costOf(query, { ids: [1, 2, 3, 4] })).toBe(2 * (4 + 1));
    const levels = 40;
    const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');
    expect(costOf(`{ ...F0 } ${fragments} fragment F${levels} on Query { __typename }`)).toBe(2 ** levels);
  });

  it('prices the introspection query every tool sends well under the default limit', () => {
    expect(costOf(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }))).toBeLessThan(500);
  });
});

describe('token limit', () => {
  it('re-codes the parser refusal as a validation failure naming MAX_TOKENS', () => {
    let message = '';
    try {
      parse(`{ ${'a '.repeat(20)} }`, { maxTokens: 10 });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(recodeTokenLimit({ message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })).toEqual({
      message: 'The document has more than 10 tokens; parsing stopped there',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'MAX_TOKENS', max: 10 },
    });
  });

  it('leaves every other error alone', () => {
    const syntax = { message: 'Syntax Error: Expected Name, found <EOF>.', extensions: { code: 'GRAPHQL_PARSE_FAILED' } };
    expect(recodeTokenLimit(syntax)).toBe(syntax);
    const other = { message: 'Syntax Error: Document contains more than 10 tokens. Parsing aborted.', extensions: { code: 'BAD_USER_INPUT' } };
    expect(recodeTokenLimit(other)).toBe(other);
  });
});
