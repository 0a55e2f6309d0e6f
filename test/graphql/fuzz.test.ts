import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import type { EntityDefinition } from '../../src/entities/define.js';
import { ENTITIES, LISTS } from '../../src/entities/index.js';
import { canonicalId } from '../../src/ids.js';
import { dataOf, startTestApp, type TestApp } from '../helpers/app.js';
import { Choices, ODD_IDS, ODD_INTS, ODD_TEXT, RUN, WRONG_TYPES, rawExchange, shortText, toLiteral, type RawAnswer } from '../helpers/fuzz.js';
import { seededRandom } from '../helpers/history.js';

/**
 * Seeded fuzzing over HTTP against a running server: random operations over the
 * whole schema with random argument values (lone surrogates, huge numbers, wrong
 * types, odd ids), and malformed bodies, headers and connections. Every answer
 * must be a client error or a success: no 5xx, no INTERNAL_SERVER_ERROR, no stack
 * trace, no error-level log line, no way past the router secret or the write
 * token. At the end every row's version is 1 plus its acknowledged mutations and
 * every cached envelope equals Postgres.
 *
 * The seed is printed; FUZZ_SEED=<seed> replays the same request stream
 * (FUZZ_COUNT and FUZZ_TIME_MS bound it; FUZZ_TRACE=1 prints every mutation
 * and its answer). Read fields come from ENTITIES and LISTS; a mutation is one entry in FIELDS.
 */
const SEED = process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) : Math.floor(Math.random() * 2 ** 31);
const COUNT = Number(process.env['FUZZ_COUNT'] ?? 1500);
const TIME_BUDGET_MS = Number(process.env['FUZZ_TIME_MS'] ?? 20_000);
const CONCURRENCY = 4;
const SECRET = 'fuzz-router-secret-0123456789';
const TOKEN = 'fuzz-write-token-0123456789';

/** A cached type of ENTITIES. */
type Entity = string;

interface Row {
  readonly entity: Entity;
  readonly id: string;
  /** Mutations on this row that the server acknowledged. */
  acks: number;
  deleted: boolean;
}

/** What the fuzzer created, and what the server acknowledged about it. */
class World {
  readonly rows = new Map<string, Row>();
  readonly slots: Record<Entity, string[]> = Object.fromEntries(ENTITIES.map((e) => [e.type, []]));
  readonly skus: string[] = [];
  readonly slugs: string[] = [];
  private skuCount = 0;
  private slugCount = 0;

  add(entity: Entity, id: string, slot: boolean): void {
    this.rows.set(id, { entity, id, acks: 0, deleted: false });
    if (slot) (this.slots[entity] ??= []).push(id);
  }

  /** An id for an argument that names an `entity`: mostly a row of ours, sometimes anything but. */
  ref(c: Choices, entity: Entity): unknown {
    const roll = c.random();
    const mine = this.slots[entity] ?? [];
    const own = mine.length > 0 ? c.pick(mine) : c.uuid();
    if (roll < 0.65) return own;
    if (roll < 0.72) return own.toUpperCase();
    if (roll < 0.77) return c.pick(this.slots[entity === 'Product' ? 'Account' : 'Product'] ?? [own]);
    if (roll < 0.85) return c.uuid();
    if (roll < 0.95) return c.pick(ODD_IDS);
    return c.pick(WRONG_TYPES);
  }

  newSku(c: Choices): unknown {
    if (c.chance(0.1) && this.skus.length > 0) return c.pick(this.skus); // ALREADY_EXISTS
    if (c.chance(0.15)) return c.pick([...ODD_TEXT, ...WRONG_TYPES]);
    return `FZ-${SEED}-${RUN}-${this.skuCount++}`;
  }

  /** Values a lookup may be asked for that some row holds (or held). */
  lookupValues(type: string, field: string): readonly string[] {
    if (type === 'Product' && field === 'sku') return this.skus;
    if (type === 'Category' && field === 'slug') return this.slugs;
    return [];
  }

  newSlug(c: Choices): unknown {
    if (c.chance(0.1) && this.slugs.length > 0) return c.pick(this.slugs); // ALREADY_EXISTS
    if (c.chance(0.15)) return c.pick([...ODD_TEXT, ...WRONG_TYPES, 'Upper-Case', 'two--dashes']);
    return `fz-${SEED}-${RUN}-${this.slugCount++}`.toLowerCase();
  }

  acknowledge(entity: Entity, rawId: unknown): void {
    const id = typeof rawId === 'string' ? canonicalId(rawId) : undefined;
    const row = id === undefined ? undefined : this.rows.get(id);
    if (row?.entity === entity) row.acks++;
  }
}

interface Arg {
  /** The declared type, for a variable definition. */
  readonly type: string;
  readonly value: unknown;
}

/** One root field of the schema, as the fuzzer calls it. */
interface FieldSpec {
  readonly root: 'query' | 'mutation';
  readonly field: string;
  readonly weight: number;
  /** The object type it returns, for a selection; undefined for a scalar. */
  readonly returns?: string;
  args(c: Choices, w: World): Record<string, Arg>;
  /**
   * Called when the server acknowledged the field: with its value, or with
   * undefined when a later field of the same mutation failed (see Operation).
   */
  acknowledge?(w: World, args: Readonly<Record<string, unknown>>, value: unknown): void;
  /** Sent only as the one field of its operation: its acknowledgement needs its value. */
  readonly alone?: boolean;
}

const int = (c: Choices, lo: number, hi: number): unknown =>
  c.chance(0.8) ? c.int(lo, hi) : c.chance(0.7) ? c.pick(ODD_INTS) : c.pick(WRONG_TYPES);
const text = (c: Choices, valid: () => string): unknown => (c.chance(0.75) ? valid() : c.chance(0.85) ? c.pick(ODD_TEXT) : c.pick(WRONG_TYPES));
const idList = (c: Choices, w: World, entity: Entity): unknown => {
  if (c.chance(0.05)) return c.pick(WRONG_TYPES);
  const length = c.chance(0.03) ? c.pick([501, 1001]) : c.int(0, 6);
  return Array.from({ length }, () => w.ref(c, entity));
};
const first = (c: Choices): unknown => (c.chance(0.3) ? undefined : c.chance(0.8) ? c.int(0, 12) : c.pick([-1, 101, 1000, null, ...WRONG_TYPES]));
/** Mostly no cursor; else one that does not decode, has the wrong shape, or names another list. */
const cursor = (c: Choices): unknown =>
  c.chance(0.7) ? undefined : c.pick(['', 'x', 'WzEsMiwzXQ', Buffer.from('[1,"Account.orders","nope","nope",[]]').toString('base64url'), ...ODD_TEXT, ...WRONG_TYPES]);
const connectionArgs = (c: Choices): Record<string, Arg> => {
  const args: Record<string, Arg> = {};
  const f = first(c);
  if (f !== undefined) args['first'] = { type: 'Int', value: f };
  const a = cursor(c);
  if (a !== undefined) args['after'] = { type: 'String', value: a };
  return args;
};
const representation = (c: Choices, w: World): unknown => {
  if (c.chance(0.1)) return c.pick(WRONG_TYPES);
  const typename = c.chance(0.85) ? c.pick(['Product', 'Account', 'Order']) : c.pick(['Transfer', 'OrderLine', 'Query', '', 'product', 7]);
  const rep: Record<string, unknown> = { __typename: typename, id: w.ref(c, typename === 'Account' || typename === 'Order' ? typename : 'Product') };
  if (c.chance(0.05)) rep['extra'] = c.pick(ODD_TEXT);
  return rep;
};

/**
 * The schema's root fields. A new operation (say `placeOrder`) is one entry: its
 * arguments, and, for a mutation, which rows its acknowledgement changed.
 */
/**
 * The root read fields of every cached type and list, from the definitions:
 * a type added to ENTITIES (pulled, or written by hand) is fuzzed with the rest.
 */
function readFields(): FieldSpec[] {
  const specs: FieldSpec[] = [];
  for (const entity of ENTITIES as readonly EntityDefinition<unknown>[]) {
    const { one, many } = entity.roots;
    if (one !== undefined) specs.push({ root: 'query', field: one, weight: 4, returns: entity.type, args: (c, w) => ({ id: { type: 'ID!', value: w.ref(c, entity.type) } }) });
    if (many !== undefined) specs.push({ root: 'query', field: many, weight: 3, returns: entity.type, args: (c, w) => ({ ids: { type: '[ID!]!', value: idList(c, w, entity.type) } }) });
    for (const [field, lookup] of entity.lookups) {
      specs.push({
        root: 'query',
        field: lookup.root,
        weight: 3,
        returns: entity.type,
        args: (c, w) => {
          const known = w.lookupValues(entity.type, field);
          return { [field]: { type: 'String!', value: known.length > 0 && c.chance(0.6) ? c.pick(known) : text(c, () => `nope-${c.int(0, 99)}`) } };
        },
      });
    }
  }
  for (const list of LISTS) {
    if (list.on === 'Query') specs.push({ root: 'query', field: list.field, weight: 3, returns: `${list.member.type}Connection`, args: (c) => connectionArgs(c) });
  }
  return specs;
}

const FIELDS: readonly FieldSpec[] = [
  ...readFields(),
  {
    root: 'query',
    field: '_entities',
    weight: 4,
    returns: '_Entity',
    args: (c, w) => ({
      representations: { type: '[_Any!]!', value: c.chance(0.05) ? c.pick(WRONG_TYPES) : Array.from({ length: c.int(0, 5) }, () => representation(c, w)) },
    }),
  },
  { root: 'query', field: '_service', weight: 1, returns: '_Service', args: () => ({}) },
  {
    root: 'mutation',
    field: 'createCategory',
    weight: 1,
    returns: 'Category',
    args: (c, w) => ({
      input: { type: 'NewCategory!', value: c.chance(0.05) ? c.pick(WRONG_TYPES) : { name: text(c, () => `Fuzz category ${c.int(0, 99)}`), slug: w.newSlug(c) } },
    }),
    acknowledge: (w, _args, value) => {
      const { id, slug } = (value ?? {}) as { id?: unknown; slug?: unknown };
      if (typeof id === 'string') w.add('Category', id, true);
      if (typeof slug === 'string') w.slugs.push(slug);
    },
  },
  {
    root: 'mutation',
    field: 'categorize',
    weight: 3,
    returns: 'Product',
    // The product's row and its categories' rows do not change (their versions stay): only their lists.
    args: (c, w) => ({
      productId: { type: 'ID!', value: w.ref(c, 'Product') },
      categoryIds: { type: '[ID!]!', value: c.chance(0.03) ? Array.from({ length: 51 }, () => c.uuid()) : idList(c, w, 'Category') },
    }),
  },
  {
    root: 'mutation',
    field: 'createProduct',
    weight: 2,
    returns: 'Product',
    args: (c, w) => ({
      input: {
        type: 'NewProduct!',
        value: c.chance(0.05)
          ? c.pick(WRONG_TYPES)
          : { sku: w.newSku(c), name: text(c, () => `Fuzzed ${c.int(0, 999)}`), priceCents: int(c, 0, 10_000), stock: int(c, 0, 1000) },
      },
    }),
    acknowledge: (w, _args, value) => {
      const { id, sku } = (value ?? {}) as { id?: unknown; sku?: unknown };
      if (typeof id === 'string') w.add('Product', id, false);
      if (typeof sku === 'string') w.skus.push(sku);
    },
  },
  {
    root: 'mutation',
    field: 'updateProduct',
    weight: 3,
    returns: 'Product',
    args: (c, w) => {
      const patch: Record<string, unknown> = {};
      if (c.chance(0.4)) patch['sku'] = w.newSku(c);
      if (c.chance(0.5)) patch['name'] = text(c, () => `Renamed ${c.int(0, 999)}`);
      if (c.chance(0.5)) patch['priceCents'] = int(c, 0, 10_000);
      if (c.chance(0.05)) patch['stock'] = 1; // not a patch field
      const args: Record<string, Arg> = { id: { type: 'ID!', value: w.ref(c, 'Product') }, patch: { type: 'ProductPatch!', value: patch } };
      if (c.chance(0.3)) args['expectedVersion'] = { type: 'Int', value: int(c, 0, 20) };
      return args;
    },
    acknowledge: (w, args, value) => {
      w.acknowledge('Product', args['id']);
      const sku = (value as { sku?: unknown } | undefined)?.sku;
      if (typeof sku === 'string') w.skus.push(sku);
    },
  },
  {
    root: 'mutation',
    field: 'adjustStock',
    weight: 6,
    returns: 'Product',
    args: (c, w) => ({ id: { type: 'ID!', value: w.ref(c, 'Product') }, delta: { type: 'Int!', value: int(c, -3, 5) } }),
    acknowledge: (w, args) => w.acknowledge('Product', args['id']),
  },
  {
    root: 'mutation',
    field: 'adjustStocks',
    weight: 3,
    returns: 'Product',
    args: (c, w) => ({
      changes: {
        type: '[StockChange!]!',
        value: c.chance(0.05)
          ? c.pick(WRONG_TYPES)
          : Array.from({ length: c.chance(0.02) ? 501 : c.int(0, 4) }, () => (c.chance(0.05) ? c.pick(WRONG_TYPES) : { id: w.ref(c, 'Product'), delta: int(c, -2, 4) })),
      },
    }),
    acknowledge: (w, args) => {
      // A single value given for a list argument is a list of one.
      const changes = args['changes'];
      for (const change of (Array.isArray(changes) ? changes : [changes]) as { id: unknown }[]) w.acknowledge('Product', change.id);
    },
  },
  {
    root: 'mutation',
    field: 'deleteProduct',
    weight: 0.5,
    alone: true,
    args: (c, w) => ({ id: { type: 'ID!', value: w.ref(c, 'Product') } }),
    acknowledge: (w, args, value) => {
      const id = typeof args['id'] === 'string' ? canonicalId(args['id']) : undefined;
      const row = id === undefined ? undefined : w.rows.get(id);
      if (value === true && row?.entity === 'Product') row.deleted = true;
    },
  },
  {
    root: 'mutation',
    field: 'createAccount',
    weight: 1,
    returns: 'Account',
    args: (c) => ({ owner: { type: 'String!', value: text(c, () => `Owner ${c.int(0, 99)}`) }, balanceCents: { type: 'Int!', value: int(c, 0, 100_000) } }),
    acknowledge: (w, _args, value) => {
      const id = (value as { id?: unknown } | undefined)?.id;
      if (typeof id === 'string') w.add('Account', id, false);
    },
  },
  {
    root: 'mutation',
    field: 'transfer',
    weight: 4,
    returns: 'Transfer',
    args: (c, w) => ({
      fromId: { type: 'ID!', value: w.ref(c, 'Account') },
      toId: { type: 'ID!', value: w.ref(c, 'Account') },
      amountCents: { type: 'Int!', value: int(c, 1, 500) },
    }),
    acknowledge: (w, args) => {
      w.acknowledge('Account', args['fromId']);
      w.acknowledge('Account', args['toId']);
    },
  },
  {
    root: 'mutation',
    field: 'placeOrder',
    weight: 4,
    returns: 'Order',
    args: (c, w) => ({
      accountId: { type: 'ID!', value: w.ref(c, 'Account') },
      lines: {
        type: '[OrderLineInput!]!',
        value: c.chance(0.05)
          ? c.pick(WRONG_TYPES)
          : Array.from({ length: c.chance(0.02) ? 101 : c.int(0, 4) }, () =>
              c.chance(0.05) ? c.pick(WRONG_TYPES) : { productId: w.ref(c, 'Product'), quantity: int(c, 0, 3) },
            ),
      },
    }),
    acknowledge: (w, args, value) => {
      w.acknowledge('Account', args['accountId']);
      // A single value given for a list argument is a list of one.
      const lines = args['lines'];
      for (const line of (Array.isArray(lines) ? lines : [lines]) as { productId: unknown }[]) w.acknowledge('Product', line.productId);
      const id = (value as { id?: unknown } | undefined)?.id;
      if (typeof id === 'string') w.add('Order', id, true);
    },
  },
];

/** Selectable fields per type; a Transfer or _Entity selects into its members. */
/** Selectable fields per type: every cached type's scalar columns (from its definition), and the few others. */
const SELECTABLE: Readonly<Record<string, readonly string[]>> = {
  ...Object.fromEntries(
    (ENTITIES as readonly EntityDefinition<unknown>[]).map((e) => [e.type, [...e.fields.filter((f) => f.kind !== 'json' && f.kind !== 'jsonb').map((f) => f.field), '__typename']]),
  ),
  Transfer: ['amountCents', '__typename'],
  _Entity: ['__typename'],
  _Service: ['sdl'],
};

/** A connection's selection: its count, and edges, nodes or pageInfo at random. */
function selectConnection(c: Choices, node: string): string {
  const parts = ['totalCount'];
  if (c.chance(0.6)) parts.push(`edges { cursor node { ${select(c, node)} } }`);
  if (c.chance(0.5)) parts.push(`nodes { ${select(c, node)} }`);
  if (c.chance(0.5)) parts.push('pageInfo { hasNextPage hasPreviousPage startCursor endCursor }');
  return parts.join(' ');
}

const argumentsOf = (c: Choices): string => {
  const args = Object.entries(connectionArgs(c)).map(([name, arg]) => `${name}: ${toLiteral(arg.value)}`);
  return args.length === 0 ? '' : `(${args.join(', ')})`;
};

function select(c: Choices, type: string, depth = 0): string {
  if (type.endsWith('Connection')) return selectConnection(c, type.slice(0, -'Connection'.length));
  const fields: string[] = ['id']; // acknowledgements read the id of what was created
  // Lists, nested once at most: an account's orders, a product's categories, a category's products.
  if (depth === 0 && type === 'Account' && c.chance(0.25)) fields.push(`orders${argumentsOf(c)} { ${selectConnection(c, 'Order')} }`);
  if (depth === 0 && type === 'Product' && c.chance(0.2)) fields.push(`categories { ${select(c, 'Category', 1)} }`);
  if (depth === 0 && type === 'Category' && c.chance(0.4)) fields.push(`products${argumentsOf(c)} { totalCount nodes { ${select(c, 'Product', 1)} } }`);
  if (type === 'Transfer') return `amountCents from { ${select(c, 'Account')} } to { ${select(c, 'Account')} }`;
  if (type === '_Entity') {
    return `__typename ... on Product { ${select(c, 'Product')} } ... on Account { ${select(c, 'Account')} } ... on Order { ${select(c, 'Order')} }`;
  }
  if (type === 'Order' && c.chance(0.4)) fields.push(`account { ${select(c, 'Account')} } lines { productId quantity unitPriceCents product { ${select(c, 'Product')} } }`);
  if (type === '_Service') return c.chance(0.9) ? 'sdl' : 'nope';
  const selectable = SELECTABLE[type] ?? ['__typename'];
  for (let i = c.int(0, 3); i > 0; i--) fields.push(c.pick(selectable));
  if (c.chance(0.15)) fields.push(`${c.pick(['a', 'b', '__proto__', 'constructor'])}: ${c.pick(selectable)}`);
  if (c.chance(0.04)) fields.push(c.pick(['nope', 'reviews', 'id { x }', '__schema { queryType { name } }']));
  if (c.chance(0.05)) fields.push(`... on ${type} { version }`);
  if (c.chance(0.03)) fields.push(`... on ${type} @include(if: ${c.pick(['true', 'false', '$missing', '"yes"'])}) { sku }`);
  return fields.join(' ');
}

const WRONG_DECLARATIONS = ['String', 'Int!', '[ID!]!', 'Boolean', 'ID', 'Nope!', '_Any!', '[String]'];

/**
 * One operation to send: its body, and what its acknowledgement means. A
 * mutation's root fields run one after another and stop at the first that
 * fails; since they are all non-null, that failure makes the whole `data` null.
 * The fields before the failed one (the `path` of its error) did commit.
 */
interface Operation {
  readonly body: Record<string, unknown>;
  readonly mutation: boolean;
  acknowledge(response: { data?: unknown; errors?: { path?: unknown[] }[] }): void;
}

function buildOperation(c: Choices, w: World): Operation {
  const root = c.chance(0.4) ? 'mutation' : 'query';
  const single = c.chance(0.85);
  const specs = FIELDS.filter((f) => f.root === root && (single || !f.alone));
  const calls = Array.from({ length: single ? 1 : c.int(2, 3) }, () => c.weighted(specs));
  const variables: Record<string, unknown> = {};
  const definitions: string[] = [];
  const fields = calls.map((spec, i) => {
    const args = spec.args(c, w);
    const key = calls.length > 1 || c.chance(0.1) ? `f${i}` : spec.field;
    const argTexts = Object.entries(args).map(([name, arg]) => {
      if (c.chance(0.4)) return `${name}: ${toLiteral(arg.value)}`;
      const variable = `v${definitions.length}`;
      definitions.push(`$${variable}: ${c.chance(0.04) ? c.pick(WRONG_DECLARATIONS) : arg.type}`);
      if (!c.chance(0.02)) variables[variable] = arg.value;
      return `${name}: $${variable}`;
    });
    const directive = c.chance(0.04) ? ` @skip(if: ${c.pick(['true', 'false', '1', 'null'])})` : c.chance(0.02) ? ' @nope' : '';
    const skipped = directive === ' @skip(if: true)';
    const selection = spec.returns === undefined ? '' : ` { ${select(c, spec.returns)} }`;
    const values = Object.fromEntries(Object.entries(args).map(([name, arg]) => [name, arg.value]));
    return {
      key,
      spec,
      values,
      skipped,
      text: `${key === spec.field ? '' : `${key}: `}${spec.field}${argTexts.length > 0 ? `(${argTexts.join(', ')})` : ''}${directive}${selection}`,
    };
  });
  const keyword = c.chance(0.03) ? 'subscription' : c.chance(0.02) ? (root === 'query' ? 'mutation' : 'query') : root;
  const name = c.chance(0.5) ? `Op${c.int(0, 9)}` : undefined;
  const head = `${keyword}${name === undefined ? '' : ` ${name}`}${definitions.length > 0 ? `(${definitions.join(', ')})` : ''}`;
  const body: Record<string, unknown> = { query: `${head} { ${fields.map((f) => f.text).join(' ')} }` };
  if (Object.keys(variables).length > 0 || c.chance(0.1)) body['variables'] = variables;
  if (name !== undefined && c.chance(0.7)) body['operationName'] = name;
  else if (c.chance(0.05)) body['operationName'] = c.pick(['Other', 42, null, '\ud800', '']);
  return {
    body,
    mutation: root === 'mutation',
    acknowledge({ data, errors }) {
      if (typeof data === 'object' && data !== null) {
        for (const f of fields) {
          const value = (data as Record<string, unknown>)[f.key];
          if (value !== undefined && value !== null) f.spec.acknowledge?.(w, f.values, value);
        }
        return;
      }
      const failed = errors?.map((e) => e.path?.[0]).find((key) => typeof key === 'string');
      if (data !== null || root !== 'mutation' || failed === undefined) return;
      for (const f of fields) {
        if (f.key === failed) return;
        if (!f.skipped) f.spec.acknowledge?.(w, f.values, undefined);
      }
    },
  };
}

/** How one request was sent, and what it may therefore expect. */
interface Sent {
  readonly label: string;
  readonly answer: RawAnswer | { status: number; text: string } | undefined;
  /** The request reached the GraphQL path without the right router secret. */
  readonly unauthenticated: boolean;
  /** A mutation sent without the right write token. */
  readonly unauthorizedMutation: boolean;
  /** An answer may legitimately never come (the client hung up). */
  readonly mayGoUnanswered?: boolean;
}

const ODD_HEADERS: readonly [string, () => string][] = [
  ['x-request-id', () => 'x'.repeat(200)],
  ['x-request-id', () => 'id with spaces'],
  ['x-request-id', () => '../../<script>'],
  ['accept', () => 'text/html'],
  ['accept', () => 'application/graphql-response+json'],
  ['accept', () => 'application/json;q=0, */*;q=0.1'],
  ['accept', () => 'multipart/mixed; deferSpec=20220824'],
  ['accept', () => ';;;=='],
  ['apollo-federation-include-trace', () => 'ftv1'],
  ['apollo-federation-include-trace', () => 'nope'],
  ['x-freshgraph-debug', () => '1'],
  ['origin', () => 'https://evil.example'],
  ['apollo-require-preflight', () => 'true'],
  ['content-encoding', () => 'gzip'],
];

const BODY_MUTATIONS: readonly ((json: string, c: Choices) => string)[] = [
  (json, c) => json.slice(0, c.int(0, Math.max(0, json.length - 1))),
  (json) => `[${json}]`,
  (json) => `${json}}`,
  (json) => `\ufeff${json}`,
  (json) => json.replace('"query"', '"query": "{ __typename }", "query"'),
  () => '{"query": 42}',
  () => '{"query": "{ __typename }", "variables": "{}"}',
  () => '{"query": "{ __typename }", "variables": [1]}',
  () => '{"query": "{ __typename }", "extensions": 5}',
  () => '{"query": "{ __typename }", "operationName": {}}',
  () => 'null',
  () => '',
  () => '{}',
  () => `{"query":"query($ids: [ID!]!) { products(ids: $ids) { id } }","variables":{"ids":${'['.repeat(5000)}${']'.repeat(5000)}}}`,
  (_json, c) => Buffer.from(Array.from({ length: c.int(1, 200) }, () => c.int(0, 255))).toString('latin1'),
  (json) => `${json}${' '.repeat(1024 * 1024)}`,
];

async function send(c: Choices, op: Operation, base: URL): Promise<Sent> {
  const port = Number(base.port);
  const secretRoll = c.random();
  const secret = secretRoll < 0.94 ? SECRET : secretRoll < 0.97 ? undefined : c.pick(['wrong-secret-0123456789', `${SECRET}x`, SECRET.toUpperCase()]);
  const tokenRoll = c.random();
  const token = tokenRoll < 0.93 ? TOKEN : tokenRoll < 0.96 ? undefined : c.pick(['wrong-token-01234567890', `${TOKEN}x`]);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (secret !== undefined) headers['x-router-secret'] = secret;
  if (token !== undefined) headers['authorization'] = c.chance(0.95) ? `Bearer ${token}` : c.pick([token, `Basic ${token}`, 'Bearer', `Bearer  ${token} junk`]);
  for (let i = c.chance(0.25) ? c.int(1, 2) : 0; i > 0; i--) {
    const [name, value] = c.pick(ODD_HEADERS);
    headers[name] = value();
  }
  const unauthenticated = secret !== SECRET;
  const unauthorizedMutation = op.mutation && token !== TOKEN;
  const json = JSON.stringify(op.body);
  const variant = c.weighted([
    { weight: 78, kind: 'post' },
    { weight: 6, kind: 'get' },
    { weight: 4, kind: 'apq' },
    { weight: 6, kind: 'body' },
    { weight: 2, kind: 'method' },
    { weight: 2, kind: 'raw' },
    { weight: 1, kind: 'ops' },
    { weight: 1, kind: 'content-type' },
  ] as const).kind;
  const sent = (label: string, answer: Sent['answer'], extra: Partial<Sent> = {}): Sent => ({
    label: `${variant} ${label}`,
    answer,
    unauthenticated,
    unauthorizedMutation,
    ...extra,
  });
  const viaFetch = async (url: string, init: RequestInit): Promise<Sent['answer']> => {
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      // Some combinations fetch itself refuses to send (a GET with a body, an invalid header value): nothing was sent.
      if (err instanceof TypeError && (!/fetch failed/.test(err.message) || /UND_ERR_(NOT_SUPPORTED|INVALID_ARG)/.test(cause?.code ?? ''))) {
        return undefined;
      }
      return { status: undefined, text: `transport failure: ${cause?.code ?? ''} ${cause?.message ?? String(err)}` };
    }
  };

  switch (variant) {
    case 'post':
      return sent(json, await viaFetch(base.href, { method: 'POST', headers, body: json }));
    case 'get': {
      const search = new URLSearchParams();
      for (const [key, value] of Object.entries(op.body)) search.set(key, typeof value === 'string' ? value : JSON.stringify(value));
      if (c.chance(0.8)) headers['apollo-require-preflight'] = 'true';
      delete headers['content-type'];
      return sent(search.toString(), await viaFetch(`${base.href}?${search}`, { method: 'GET', headers }));
    }
    case 'apq': {
      const query = String(op.body['query']);
      const hash = createHash('sha256').update(query).digest('hex');
      const persisted = c.pick([
        { version: 1, sha256Hash: hash },
        { version: 1, sha256Hash: '0'.repeat(64) },
        { version: 1, sha256Hash: 12 },
        { version: 2, sha256Hash: hash },
        'yes',
        { version: 1 },
      ]);
      const withText = c.chance(0.7);
      const body = JSON.stringify({ ...op.body, ...(withText ? {} : { query: undefined }), extensions: { persistedQuery: persisted } });
      return sent(body, await viaFetch(base.href, { method: 'POST', headers, body }));
    }
    case 'body': {
      const body = c.pick(BODY_MUTATIONS)(json, c);
      return sent(shortText(body), await viaFetch(base.href, { method: 'POST', headers, body }));
    }
    case 'content-type': {
      headers['content-type'] = c.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/graphql', 'application/jsonx', '']);
      return sent(`${headers['content-type']} ${json}`, await viaFetch(base.href, { method: 'POST', headers, body: json }));
    }
    case 'method': {
      const method = c.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE']);
      const withBody = method !== 'HEAD' && method !== 'TRACE';
      return sent(method, await viaFetch(base.href, { method, headers, ...(withBody ? { body: json } : {}) }), {
        unauthenticated: unauthenticated && method !== 'OPTIONS',
      });
    }
    case 'ops': {
      const path = c.pick(['/healthz', '/readyz', '/metrics', '/nope', '/graphql/', '//graphql', '/graphql/../graphql', '/%ff']);
      const method = c.pick(['GET', 'HEAD', 'POST', 'DELETE']);
      const url = `${base.origin}${path}`;
      const answer = await viaFetch(url, { method, headers, ...(method === 'POST' || method === 'DELETE' ? { body: json } : {}) });
      // Only /graphql and / are GraphQL; the platform's routes and unknown paths ignore the secret.
      return sent(`${method} ${path}`, answer, { unauthenticated: false, unauthorizedMutation: false });
    }
    case 'raw': {
      const head = (extra: string) =>
        `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nx-router-secret: ${SECRET}\r\n${extra}\r\n`;
      const kind = c.pick(['huge-length', 'abort', 'garbage', 'bad-chunk', 'http10', 'big-header', 'absolute'] as const);
      const label = `raw ${kind}`;
      const extra = { unauthenticated: false, unauthorizedMutation: false };
      if (kind === 'huge-length') return sent(label, await rawExchange(port, `${head('content-length: 100000000000\r\n')}${json}`), extra);
      if (kind === 'abort') {
        return sent(label, await rawExchange(port, `${head(`content-length: ${json.length + 100}\r\n`)}${json.slice(0, json.length >> 1)}`, { abortAfterMs: c.int(0, 30) }), {
          ...extra,
          mayGoUnanswered: true,
        });
      }
      if (kind === 'garbage') return sent(label, await rawExchange(port, `${c.pick(['GET', 'POST', 'BREW', '\u0000'])} /graphql HTTP/9.9\r\n\r\n`), extra);
      if (kind === 'bad-chunk') return sent(label, await rawExchange(port, `${head('transfer-encoding: chunked\r\n')}zz\r\n${json}\r\n0\r\n\r\n`), extra);
      if (kind === 'http10') {
        return sent(label, await rawExchange(port, `POST /graphql HTTP/1.0\r\ncontent-type: application/json\r\nx-router-secret: ${SECRET}\r\ncontent-length: ${Buffer.byteLength('{"query":"{ __typename }"}')}\r\n\r\n{"query":"{ __typename }"}`), extra);
      }
      if (kind === 'big-header') return sent(label, await rawExchange(port, `${head(`x-big: ${'b'.repeat(20_000)}\r\ncontent-length: 2\r\n`)}{}`), extra);
      return sent(label, await rawExchange(port, `GET http://evil.example/graphql?query=%7B__typename%7D HTTP/1.1\r\nhost: evil.example\r\nx-router-secret: ${SECRET}\r\napollo-require-preflight: 1\r\nconnection: close\r\n\r\n`), extra);
    }
  }
}

const STACK = /\n\s+at |stacktrace|\.ts:\d+|node_modules\//i;

/** What is wrong with an answer, or undefined. */
function problemWith(s: Sent): string | undefined {
  const { answer } = s;
  if (answer === undefined) return undefined; // not sent
  if (answer.status === undefined) return s.mayGoUnanswered ? undefined : 'no HTTP answer';
  if (answer.status >= 500) return `HTTP ${answer.status}`;
  if (/INTERNAL_SERVER_ERROR/.test(answer.text)) return 'INTERNAL_SERVER_ERROR';
  if (STACK.test(answer.text)) return 'a stack trace or source path in the answer';
  const bodyText = answer.text.includes('\r\n\r\n') ? answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4) : answer.text;
  let json: { data?: Record<string, unknown> | null; errors?: { extensions?: { code?: unknown } }[] } | undefined;
  try {
    json = JSON.parse(bodyText) as typeof json;
  } catch {
    json = undefined;
  }
  if (s.unauthenticated && answer.status !== 401) return `HTTP ${answer.status} without the router secret (expected 401)`;
  if (json?.errors?.some((e) => typeof e.extensions?.code !== 'string')) return 'an error without extensions.code';
  const data = json?.data;
  if (s.unauthorizedMutation && data && Object.values(data).some((v) => v !== null)) return 'a mutation ran without the write token';
  return undefined;
}

let app: TestApp;
const severe: string[] = [];
const world = new World();

beforeAll(async () => {
  app = await startTestApp(
    { ROUTER_SECRET: SECRET, WRITE_TOKENS: TOKEN, DEBUG_EXTENSIONS: 'true', LOG_LEVEL: 'warn' },
    { logDestination: { write: (line: string) => void (/"level":(50|60)/.test(line) && severe.push(line)) } },
  );
  const auth = { 'x-router-secret': SECRET, authorization: `Bearer ${TOKEN}` };
  for (let i = 0; i < 10; i++) {
    const sku = `FZ-${SEED}-${RUN}-seed-${i}`;
    const { createProduct } = dataOf(
      await app.gql<{ createProduct: { id: string } }>(
        'mutation($input: NewProduct!) { createProduct(input: $input) { id } }',
        { input: { sku, name: `Fuzz seed ${i}`, priceCents: 100, stock: 1000 } },
        auth,
      ),
    );
    world.add('Product', createProduct.id, true);
    world.skus.push(sku);
  }
  for (let i = 0; i < 6; i++) {
    const { createAccount } = dataOf(
      await app.gql<{ createAccount: { id: string } }>('mutation($o: String!) { createAccount(owner: $o, balanceCents: 100000) { id } }', { o: `Fuzz ${i}` }, auth),
    );
    world.add('Account', createAccount.id, true);
  }
  for (let i = 0; i < 4; i++) {
    const slug = `fz-${SEED}-${RUN}-seed-${i}`.toLowerCase();
    const { createCategory } = dataOf(
      await app.gql<{ createCategory: { id: string } }>('mutation($i: NewCategory!) { createCategory(input: $i) { id } }', { i: { name: `Fuzz category ${i}`, slug } }, auth),
    );
    world.add('Category', createCategory.id, true);
    world.slugs.push(slug);
  }
});
afterAll(async () => {
  await app?.close();
});

describe(`seeded fuzzing (FUZZ_SEED=${SEED})`, () => {
  it('answers every request with a client error or a success, and loses nothing', { timeout: 120_000 }, async () => {
    console.log(`fuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED}), up to ${COUNT} requests or ${TIME_BUDGET_MS} ms`);
    const c = new Choices(seededRandom(SEED));
    // The whole stream is drawn before anything is sent, so a seed gives the same requests whatever the timing.
    const stream = Array.from({ length: COUNT }, () => ({ op: buildOperation(c, world), choices: new Choices(seededRandom(c.int(0, 2 ** 31))) }));
    const base = new URL(app.url);
    const problems: string[] = [];
    const statuses = new Map<string, number>();
    const began = Date.now();
    let next = 0;
    let sent = 0;
    const worker = async () => {
      while (next < stream.length && Date.now() - began < TIME_BUDGET_MS) {
        const index = next++;
        const { op, choices } = stream[index] as (typeof stream)[number];
        const result = await send(choices, op, base);
        sent++;
        const status = String(result.answer?.status ?? (result.answer === undefined ? 'not sent' : 'none'));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const problem = problemWith(result);
        if (problem !== undefined) problems.push(`#${index} ${problem}: ${shortText(result.label)} -> ${shortText(result.answer?.text ?? '')}`);
        if (result.answer?.status === 200) {
          let response: Parameters<Operation['acknowledge']>[0] = {};
          try {
            response = JSON.parse(result.answer.text.slice(result.answer.text.indexOf('{'))) as typeof response;
          } catch {
            // not a GraphQL answer (a platform route)
          }
          if (process.env['FUZZ_TRACE'] && op.mutation) console.log(`#${index} [200] ${result.label} -> ${shortText(result.answer.text)}`);
          op.acknowledge(response);
        } else if (process.env['FUZZ_TRACE'] && op.mutation) {
          console.log(`#${index} [${result.answer?.status}] ${result.label} -> ${shortText(result.answer?.text)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(`fuzz: ${sent} requests in ${Date.now() - began} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);

    expect(problems.slice(0, 10), `seed ${SEED}: ${problems.length} bad answers`).toEqual([]);
    expect(severe.slice(0, 5).map((line) => line.slice(0, 500)), `seed ${SEED}: error-level log lines`).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(Math.min(COUNT, 200));
    const acknowledged = [...world.rows.values()].reduce((sum, row) => sum + row.acks, 0);
    expect(acknowledged, 'some mutations were acknowledged').toBeGreaterThan(0);
    console.log(`fuzz: ${acknowledged} acknowledged changes on ${world.rows.size} rows`);

    // Every row's version is 1 plus its acknowledged mutations (a deleted row is gone).
    const { knex } = app.running.deps.db;
    const rows = [...world.rows.values()];
    const versions = new Map<string, number>();
    for (const table of ['products', 'accounts', 'orders', 'categories']) {
      const found = (await knex(table).select('id', 'version').whereIn('id', rows.map((r) => r.id))) as { id: string; version: number }[];
      for (const r of found) versions.set(r.id, Number(r.version));
    }
    const wrongVersions = rows.filter((r) => (r.deleted ? versions.has(r.id) : versions.get(r.id) !== 1 + r.acks));
    expect(
      wrongVersions.map((r) => ({ ...r, stored: versions.get(r.id) })),
      `seed ${SEED}: versions that are not 1 + acknowledged mutations`,
    ).toEqual([]);

    // Every cached envelope equals Postgres (a deleted row: a tombstone one version above its last).
    const { cache, readers } = app.running.deps;
    const mismatches = async (): Promise<unknown[]> => {
      await cache.idle();
      const out: unknown[] = [];
      for (const entity of ['Product', 'Account', 'Order', 'Category'] as const) {
        const mine = rows.filter((r) => r.entity === entity);
        if (mine.length === 0) continue; // no order was placed with this seed
        const current = await (readers.kinds.get(entity) as NonNullable<ReturnType<typeof readers.kinds.get>>).load(mine.map((r) => r.id));
        const raws = await app.redis.mget(mine.map((r) => cache.keys.entity(entity, r.id)));
        mine.forEach((row, i) => {
          const raw = raws[i];
          if (raw === null || raw === undefined) return;
          const envelope = parseEnvelope(raw);
          const record = current.get(row.id);
          const expected = record ? { v: record.version, data: JSON.parse(JSON.stringify(record.data)) as unknown } : { v: 2 + row.acks, data: null };
          if (envelope?.v !== expected.v || JSON.stringify(envelope?.data) !== JSON.stringify(expected.data)) {
            out.push({ key: cache.keys.entity(entity, row.id), cached: envelope, expected });
          }
        });
      }
      // Every cached list too: the version, members and total Postgres has for it.
      const lists: [string, string[]][] = [
        ['Account.orders', rows.filter((r) => r.entity === 'Account').map((r) => r.id)],
        ['Product.categories', rows.filter((r) => r.entity === 'Product' && !r.deleted).map((r) => r.id)],
        ['Category.products', rows.filter((r) => r.entity === 'Category').map((r) => r.id)],
        ['Query.productCatalog', ['']],
      ];
      for (const [name, owners] of lists) {
        const kind = readers.kinds.get(name) as NonNullable<ReturnType<typeof readers.kinds.get>>;
        const current = await kind.load(owners);
        const raws = await app.redis.mget(owners.map((o) => kind.keyOf(o)));
        owners.forEach((owner, i) => {
          const raw = raws[i];
          if (raw === null || raw === undefined) return;
          const envelope = parseEnvelope(raw);
          const record = current.get(owner);
          if (envelope?.v !== record?.version || JSON.stringify(envelope?.data) !== JSON.stringify(record?.data)) {
            out.push({ key: kind.keyOf(owner), cached: envelope, expected: record });
          }
        });
      }
      return out;
    };
    // A write that failed is repaired within about a second; give it a few.
    let wrong = await mismatches();
    for (let attempt = 0; wrong.length > 0 && attempt < 20; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      wrong = await mismatches();
    }
    expect(wrong, `seed ${SEED}: cached envelopes that differ from Postgres`).toEqual([]);
  });
});
