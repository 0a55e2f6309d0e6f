import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { normalizeIsoDate, normalizeIsoInput } from '../entities/pg-text.js';
import { badInput } from '../errors.js';

/**
 * The scalars the column kinds are served as (src/entities/columns.ts). Each
 * serializes the value the cache stores unchanged (a row is served as it is
 * stored, by the fast path too) and parses what a client sends into the exact
 * text Postgres takes, refusing anything else with BAD_USER_INPUT.
 */

type Check = (value: string) => string | undefined;

function textScalar(name: string, description: string, check: Check, example: string): GraphQLScalarType<string, string> {
  const parse = (value: unknown): string => {
    const parsed = typeof value === 'string' ? check(value) : undefined;
    if (parsed === undefined) throw badInput(`${name} must be ${description.charAt(0).toLowerCase()}${description.slice(1, -1)}, such as ${example}`);
    return parsed;
  };
  return new GraphQLScalarType<string, string>({
    name,
    description,
    serialize: (value) => {
      if (typeof value === 'string') return value;
      throw new TypeError(`${name} cannot represent ${typeof value}`);
    },
    parseValue: parse,
    parseLiteral: (ast) => {
      if (ast.kind !== Kind.STRING) throw badInput(`${name} must be a string`);
      return parse(ast.value);
    },
  });
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export const DateTime = textScalar(
  'DateTime',
  'An ISO-8601 date-time with an offset (Z or +HH:MM), to the microsecond; served in UTC (a timestamp without a time zone is taken as UTC; years as in Date; also infinity, -infinity).',
  normalizeIsoInput,
  '2026-11-26T10:59:18.123Z',
);

export const BigInt64 = textScalar(
  'BigInt',
  'A 64-bit integer as a decimal string, exact beyond 2^53.',
  (v) => {
    if (!/^-?\d{1,19}$/.test(v)) return undefined;
    const n = BigInt(v);
    return n >= -(2n ** 63n) && n < 2n ** 63n ? n.toString() : undefined;
  },
  '"9223372036854775807"',
);

export const Decimal = textScalar(
  'Decimal',
  'An exact decimal number as a string, as Postgres numeric writes it (also NaN, Infinity, -Infinity).',
  (v) => (DECIMAL.test(v) || v === 'NaN' || v === 'Infinity' || v === '-Infinity' ? v : undefined),
  '"12.3456789012345678901234567890"',
);

export const DateScalar = textScalar(
  'Date',
  'A calendar date, YYYY-MM-DD (a year before 1 or after 9999 with a sign and six digits: -000043 is 44 BC; also infinity, -infinity).',
  normalizeIsoDate,
  '"2026-11-26"',
);

export const Time = textScalar(
  'Time',
  'A time of day, HH:MM:SS with up to six fractional digits.',
  (v) => (/^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?$/.test(v) || v === '24:00:00' ? v : undefined),
  '"10:59:18.123456"',
);

export const Base64 = textScalar(
  'Base64',
  'Bytes, base64-encoded.',
  (v) => (/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v) ? v : undefined),
  '"AQI="',
);

function literalValue(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literalValue(v, variables));
    case Kind.OBJECT: {
      const object: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const field of ast.fields) object[field.name.value] = literalValue(field.value, variables);
      return object;
    }
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    case Kind.ENUM:
      return ast.value;
  }
}

/** Any JSON value, served as stored. */
export const JSONScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => literalValue(ast, variables),
});

/** The scalars by their GraphQL name, for the resolver map. */
export const SCALARS = {
  DateTime,
  BigInt: BigInt64,
  Decimal,
  Date: DateScalar,
  Time,
  Base64,
  JSON: JSONScalar,
} as const;
