import { base64OfBytea, isoDate, isoTimestamp, parseArrayLiteral, postgresDate, postgresTimestamp } from './pg-text.js';

/**
 * The column types a definition can declare, each exact in both directions:
 * `decode` turns what the driver hands over (the text Postgres wrote, for
 * every type a JavaScript value would not hold exactly) into the JSON-safe
 * value the cache stores and GraphQL serves, and `encode` turns a value a
 * client sent back into what a statement binds. `sqlType` is what bound values
 * are cast to.
 *
 * | kind | Postgres | served as | value |
 * |---|---|---|---|
 * | uuid | uuid | ID | lower-case text |
 * | text | text, varchar, char, citext | String | text, as stored |
 * | smallint, integer | int2, int4 | Int | number |
 * | bigint | int8 | BigInt | decimal text (exact beyond 2^53) |
 * | numeric | numeric | Decimal | decimal text as Postgres writes it (`NaN`, `Infinity`) |
 * | real, double | float4, float8 | Float | number; `NaN`, `Infinity`, `-Infinity` as text (JSON has no such numbers) |
 * | boolean | bool | Boolean | true/false |
 * | date | date | Date | `YYYY-MM-DD`; years before 1 or after 9999 as ISO 8601 writes them (`-000043-03-15` is 44 BC); `infinity`, `-infinity` |
 * | time | time | Time | `HH:MM:SS[.ffffff]` |
 * | timestamp, timestamptz | timestamp, timestamptz | DateTime | ISO-8601 UTC (`...T10:59:18.123456Z`), years as for date; a timestamp without zone is UTC; `infinity`, `-infinity` |
 * | json, jsonb | json, jsonb | JSON (or a typed shape) | as parsed |
 * | enum | a Postgres enum | a GraphQL enum | the GraphQL name of the label |
 * | bytea | bytea | Base64 | base64 text |
 * and a one-dimensional array of any of them (a GraphQL list; NULL elements stay null).
 */
export type ColumnKind =
  | 'uuid'
  | 'text'
  | 'smallint'
  | 'integer'
  | 'bigint'
  | 'numeric'
  | 'real'
  | 'double'
  | 'boolean'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'json'
  | 'jsonb'
  | 'enum'
  | 'bytea';

/** One column: its name in the table (snake_case of the field unless given) and how its values cross. */
export interface Column<T> {
  readonly kind: ColumnKind;
  /** What bound values are cast to (`int4`, `citext`, `"mood"`, `int4[]`). */
  readonly sqlType: string;
  readonly array: boolean;
  /** The table's column name; undefined means the field name in snake_case. */
  readonly name: string | undefined;
  readonly nullable: boolean;
  /** For a column holding a JSON array served as a GraphQL list: the most items it holds (the cost limit multiplies by it). */
  readonly maxItems: number | undefined;
  /** Served as `ID`: an entity's key, or a column holding another entity's key. */
  readonly id: boolean;
  /** The GraphQL named type it is served as (a list of it for an array). */
  readonly graphqlType: string;
  /** An enum's Postgres labels and the GraphQL names they are served as. */
  readonly enumNames: ReadonlyMap<string, string> | undefined;
  /** The driver's value -> the value stored and served. */
  readonly decode: (value: unknown) => T;
  /** A value a client sent (as GraphQL coerced it) -> what a statement binds, cast to `sqlType`. */
  readonly encode: (value: unknown) => unknown;
  /** The same column under another name. */
  as(name: string): Column<T>;
  /** The same column, allowing NULL. */
  orNull(): Column<T | null>;
}

interface Kind<T> {
  readonly kind: ColumnKind;
  readonly sqlType: string;
  readonly graphqlType: string;
  /** From the driver's value, or from the element text of an array literal. */
  readonly decode: (value: unknown) => T;
  readonly encode?: (value: unknown) => unknown;
  readonly enumNames?: ReadonlyMap<string, string>;
  readonly id?: boolean;
}

interface Shape {
  readonly name?: string;
  readonly nullable?: boolean;
  readonly maxItems?: number;
  readonly array?: boolean;
}

function column<T>(kind: Kind<T>, shape: Shape = {}): Column<T> {
  const { name, nullable = false, maxItems, array = false } = shape;
  const encode = kind.encode ?? ((v: unknown) => v);
  return {
    kind: kind.kind,
    sqlType: array ? `${kind.sqlType}[]` : kind.sqlType,
    array,
    name,
    nullable,
    maxItems,
    id: kind.id ?? false,
    graphqlType: kind.graphqlType,
    enumNames: kind.enumNames,
    decode: nullable ? (v) => (v === null || v === undefined ? (null as T) : kind.decode(v)) : kind.decode,
    encode: nullable ? (v) => (v === null || v === undefined ? null : encode(v)) : encode,
    as: (other) => column(kind, { ...shape, name: other }),
    orNull: () => column<T | null>(kind as Kind<T | null>, { ...shape, nullable: true }),
  };
}

/** pg hands bigint and count(*) over as text, PGlite as numbers. */
export function toInt(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError(`Expected an integer, got ${String(value)}`);
  return n;
}

/** Timestamps leave the database as ISO-8601 strings (exact to the microsecond), so a row survives a JSON round trip unchanged. */
export function toIso(value: unknown): string {
  if (typeof value === 'string') return isoTimestamp(value);
  if (value instanceof Date) return value.toISOString();
  throw new TypeError(`Expected a timestamp, got ${typeof value}`);
}

const asText = (value: unknown): string => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  throw new TypeError(`Expected text, got ${typeof value}`);
};

const INT8 = /^-?\d+$/;
const canonicalBigint = (value: unknown): string => {
  const text = asText(value);
  if (!INT8.test(text)) throw new TypeError(`Expected a bigint, got ${text.slice(0, 40)}`);
  return BigInt(text).toString();
};

const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);
/** A float as a number; the three values JSON cannot hold as text. */
const float = (value: unknown): number | string => {
  const n = typeof value === 'number' ? value : Number(value);
  if (Number.isFinite(n)) return n;
  const text = typeof value === 'number' ? String(value) : asText(value);
  if (NON_FINITE.has(text)) return text;
  if (Number.isNaN(n)) return 'NaN';
  return n > 0 ? 'Infinity' : '-Infinity';
};

const bool = (value: unknown): boolean => {
  if (typeof value === 'boolean') return value;
  if (value === 't' || value === 'true') return true;
  if (value === 'f' || value === 'false') return false;
  throw new TypeError(`Expected a boolean, got ${String(value)}`);
};

/** Postgres text cannot hold U+0000; GraphQL's String can. */
const textInput = (value: unknown): string => {
  const text = asText(value);
  if (text.includes('\u0000')) throw new TypeError('text cannot hold the character U+0000');
  return text;
};

/** GraphQL's Int is 32 bits: a smallint needs its own check. */
const inRange = (value: unknown, max: number, type: string): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -max - 1 || value > max) {
    throw new TypeError(`${type} must be an integer from ${-max - 1} to ${max}`);
  }
  return value;
};

export const uuid = (name?: string): Column<string> =>
  column({ kind: 'uuid', sqlType: 'uuid', graphqlType: 'ID', decode: (v) => asText(v).toLowerCase(), id: true }, { name });
/** `sqlType`: `text` (default), `varchar`, `bpchar` (char(n), served with its padding) or `citext`. */
export const text = (name?: string, sqlType = 'text'): Column<string> => column({ kind: 'text', sqlType, graphqlType: 'String', decode: asText, encode: textInput }, { name });
export const smallint = (name?: string): Column<number> =>
  column({ kind: 'smallint', sqlType: 'int2', graphqlType: 'Int', decode: toInt, encode: (v) => inRange(v, 32_767, 'smallint') }, { name });
export const int = (name?: string): Column<number> => column({ kind: 'integer', sqlType: 'int4', graphqlType: 'Int', decode: toInt }, { name });
export const bigint = (name?: string): Column<string> =>
  column({ kind: 'bigint', sqlType: 'int8', graphqlType: 'BigInt', decode: canonicalBigint }, { name });
export const numeric = (name?: string): Column<string> => column({ kind: 'numeric', sqlType: 'numeric', graphqlType: 'Decimal', decode: asText }, { name });
export const real = (name?: string): Column<number | string> => column({ kind: 'real', sqlType: 'float4', graphqlType: 'Float', decode: float }, { name });
export const double = (name?: string): Column<number | string> =>
  column({ kind: 'double', sqlType: 'float8', graphqlType: 'Float', decode: float }, { name });
export const boolean = (name?: string): Column<boolean> => column({ kind: 'boolean', sqlType: 'bool', graphqlType: 'Boolean', decode: bool }, { name });
export const date = (name?: string): Column<string> =>
  column({ kind: 'date', sqlType: 'date', graphqlType: 'Date', decode: (v) => isoDate(asText(v)), encode: (v) => postgresDate(asText(v)) }, { name });
export const time = (name?: string): Column<string> => column({ kind: 'time', sqlType: 'time', graphqlType: 'Time', decode: asText }, { name });
/** A `timestamptz`. */
export const timestamp = (name?: string): Column<string> =>
  column({ kind: 'timestamptz', sqlType: 'timestamptz', graphqlType: 'DateTime', decode: toIso, encode: (v) => postgresTimestamp(asText(v)) }, { name });
/** A `timestamp without time zone`, served as if it were UTC. */
export const localTimestamp = (name?: string): Column<string> =>
  column({ kind: 'timestamp', sqlType: 'timestamp', graphqlType: 'DateTime', decode: toIso, encode: (v) => postgresTimestamp(asText(v)) }, { name });
/**
 * A json or jsonb column, served as stored. The type is the caller's promise;
 * an array served as a GraphQL list names its most items.
 */
export const jsonb = <T>(options: { readonly name?: string; readonly maxItems?: number; readonly sqlType?: 'json' | 'jsonb' } = {}): Column<T> => {
  const sqlType = options.sqlType ?? 'jsonb';
  return column<T>(
    // Both drivers parse json and jsonb (and their arrays) themselves: a string here is a JSON string value, not JSON text.
    { kind: sqlType, sqlType, graphqlType: 'JSON', decode: (v) => v as T, encode: (v) => JSON.stringify(v) },
    { name: options.name, maxItems: options.maxItems },
  );
};
/** A jsonb column (see jsonb). */
export const json = jsonb;
export const bytea = (name?: string): Column<string> =>
  column({ kind: 'bytea', sqlType: 'bytea', graphqlType: 'Base64', decode: base64OfBytea, encode: (v) => Buffer.from(asText(v), 'base64') }, { name });

/** GraphQL's name for an enum label: upper case, words joined by `_` (`in stock` -> `IN_STOCK`). */
export function enumValueName(label: string): string {
  const name = label
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  const safe = /^[0-9]/.test(name) || name === '' ? `V_${name}` : name;
  return ['TRUE', 'FALSE', 'NULL'].includes(safe) ? `${safe}_` : safe;
}

/**
 * A Postgres enum (`type` its name, `labels` in order), served as the GraphQL
 * enum `graphqlType` whose values are the labels' names (enumValueName).
 */
export function enumOf(type: string, labels: readonly string[], graphqlType: string, name?: string): Column<string> {
  const names = new Map(labels.map((label) => [label, enumValueName(label)]));
  const labelsByName = new Map([...names].map(([label, value]) => [value, label]));
  if (labelsByName.size !== names.size) throw new TypeError(`enum ${type}: two labels have the same GraphQL name`);
  return column(
    {
      kind: 'enum',
      sqlType: `"${type.replace(/"/g, '""')}"`,
      graphqlType,
      enumNames: names,
      decode: (v) => {
        const value = names.get(asText(v));
        if (value === undefined) throw new TypeError(`enum ${type} has no label ${String(v)}`);
        return value;
      },
      encode: (v) => {
        const label = labelsByName.get(asText(v));
        if (label === undefined) throw new TypeError(`enum ${graphqlType} has no value ${String(v)}`);
        return label;
      },
    },
    { name },
  );
}

/**
 * A one-dimensional array of `of` (its name and NULL-ness are the array's own).
 * `maxItems`: the most elements it holds, which the cost limit multiplies by
 * (a server does not start with a list field it cannot bound); a CHECK
 * (`cardinality(tags) <= 20`) keeps the promise for every writer.
 */
export function arrayOf<T>(of: Column<T>, options: string | { readonly name?: string; readonly maxItems?: number } = {}): Column<(T | null)[]> {
  if (of.array) throw new TypeError('arrays of arrays are not supported');
  const { name, maxItems } = typeof options === 'string' ? { name: options, maxItems: undefined } : options;
  const json = of.kind === 'json' || of.kind === 'jsonb';
  const element = (v: unknown): T | null => {
    // pg parses a two-dimensional int4[] into nested arrays (parseArrayLiteral refuses them in text); a JSON element may be an array.
    if (Array.isArray(v) && !json) throw new TypeError('Multi-dimensional arrays are not supported (CHECK (array_ndims(column) = 1) keeps them out)');
    return v === null ? null : of.decode(v);
  };
  return column<(T | null)[]>(
    {
      kind: of.kind,
      sqlType: of.sqlType,
      graphqlType: of.graphqlType,
      enumNames: of.enumNames,
      decode: (v) => (typeof v === 'string' ? parseArrayLiteral(v) : (v as unknown[])).map(element),
      encode: (v) => arrayLiteral((v as unknown[]).map((e) => (e === null ? null : of.encode(e)))),
    },
    { name, array: true, maxItems },
  );
}

/**
 * Encoded elements as a Postgres array literal (`{"1",NULL,"a \"b\""}`), bound
 * as text and cast by the statement: PGlite cannot serialize a JavaScript array
 * of a type it does not know (an enum, citext), and a literal is the same text
 * on both drivers.
 */
function arrayLiteral(elements: readonly unknown[]): string {
  const text = (e: unknown): string => (e instanceof Uint8Array ? `\\x${Buffer.from(e).toString('hex')}` : typeof e === 'boolean' ? (e ? 't' : 'f') : String(e));
  return `{${elements.map((e) => (e === null ? 'NULL' : `"${text(e).replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(',')}}`;
}

/** A column served as `ID`: its values as canonical text. For a key, or a column holding another entity's key. */
export function asId(of: Column<unknown>): Column<string> {
  const canonical = (v: unknown): string => (of.kind === 'bigint' || of.kind === 'integer' || of.kind === 'smallint' ? canonicalBigint(v) : asText(of.decode(v)));
  return column({ kind: of.kind, sqlType: of.sqlType, graphqlType: 'ID', decode: canonical, id: true }, { name: of.name, nullable: of.nullable });
}

/** The kinds a key may be of. */
export const KEY_KINDS: ReadonlySet<ColumnKind> = new Set(['uuid', 'smallint', 'integer', 'bigint', 'text']);

const INT_RANGE = { smallint: 32_767, integer: 2_147_483_647 } as const;
const INT8_MAX = 2n ** 63n - 1n;
const LONGEST_TEXT_KEY = 1024;

/**
 * The canonical form of a key a client sent (an `ID` argument, a
 * representation's key), or undefined when it cannot be one of this kind:
 * uuids in lower case, integers in plain decimal, text as sent.
 */
export function parseKey(kind: ColumnKind, raw: string): string | undefined {
  switch (kind) {
    case 'uuid': {
      if (raw.length !== 36) return undefined;
      const lower = raw.toLowerCase();
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(lower) ? lower : undefined;
    }
    case 'smallint':
    case 'integer': {
      if (!/^-?\d{1,10}$/.test(raw)) return undefined;
      const n = Number(raw);
      const max = INT_RANGE[kind];
      return n >= -max - 1 && n <= max ? String(n) : undefined;
    }
    case 'bigint': {
      if (!/^-?\d{1,19}$/.test(raw)) return undefined;
      const n = BigInt(raw);
      return n >= -INT8_MAX - 1n && n <= INT8_MAX ? n.toString() : undefined;
    }
    case 'text':
      return raw.length > 0 && raw.length <= LONGEST_TEXT_KEY && !raw.includes('\u0000') ? raw : undefined;
    default:
      return undefined;
  }
}
