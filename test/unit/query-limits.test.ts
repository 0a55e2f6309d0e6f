import { buildSchema, getIntrospectionQuery, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { measureOperations, recodeTokenLimit, shapeLimitsRule } from '../../src/plugins/query-limits.js';

// A recursive schema, so that depth can be exceeded by a valid operation.
const schema = buildSchema(`
  type Node { id: ID! child: Node children(ids: [ID!]): [Node!]! }
  type Query { node(id: ID!): Node nodes(ids: [ID!]!, more: [ID!]): [Node]! }
`);

const shapeOf = (source: string) => measureOperations(parse(source))[0]?.shape;
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
