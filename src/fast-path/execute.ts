import { GraphQLError } from 'graphql';
import type { RequestContext } from '../context.js';
import type { EntityDefinition } from '../entities/define.js';
import { ROOT_OWNER, type ListDefinition } from '../entities/lists.js';
import { tryReadPage, type PageAfter } from '../loaders/list-pages.js';
import type { RequestLoaders } from '../loaders/request-loaders.js';
import { firstOf } from '../resolvers/connections.js';
import { decodeCursor, encodeCursor } from '../resolvers/cursors.js';
import { MAX_LIST_LENGTH } from '../validation.js';
import { argumentOf, own, valueOf, type ConnectionPlan, type FieldPlan, type Plan, type PlainListPlan, type Shape } from './plan.js';
import type { EntityRoute } from './routes.js';

/**
 * Runs a plan through the request's own loaders and builds the response value
 * execution would build. Whenever execution would do something else (report an
 * error, null a parent, coerce an odd value), it throws FALL_THROUGH and
 * execution answers instead; every other exception is a bug and is rethrown.
 * Relations and lists read through the request's DataLoaders, as their
 * resolvers do, so that the loads of one level batch into one round trip each;
 * a list's page is read by the same function as the resolvers' (list-pages.ts).
 */

/** Thrown to hand the request to normal execution. Nothing else may be caught silently. */
export const FALL_THROUGH: unique symbol = Symbol('fall through');

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An object with no prototype: a response key such as `__proto__` (an alias) is an own key, as graphql-js makes it. */
export const newObject = (): Record<string, unknown> => Object.create(null) as Record<string, unknown>;

type Variables = Record<string, unknown> | undefined;

/** What every level of one run needs. */
interface Run {
  readonly loaders: RequestLoaders;
  readonly variables: Variables;
}

type Row = Readonly<Record<string, unknown>>;

/**
 * True when the row, as decoded from the cache, already is the answer: the same keys
 * in the same order, each value one that its scalar serializes to itself. Then it is
 * used as is (JSON.stringify gives the same text) and no copy is made: on a list of
 * 100 rows those copies were a large part of the garbage.
 */
function isOwnAnswer(row: Record<string, unknown>, shape: Shape): boolean {
  if (!shape.plain) return false;
  const { fields } = shape;
  let i = 0;
  for (const key in row) {
    const leaf = fields[i++];
    if (leaf === undefined || leaf.kind !== 'leaf' || leaf.name !== key || leaf.serialize === null) return false;
    const value = row[key];
    if (value === null || value === undefined) {
      if (leaf.nonNull || value === undefined) return false;
      continue;
    }
    try {
      if (leaf.serialize(value) !== value) return false;
    } catch {
      return false; // the copy below serializes it again and falls through
    }
  }
  return i === fields.length;
}

/**
 * The response object of one row. A field that needs loads of its own holds its
 * place in the key order and is filled in when `pending` settles.
 */
function shapeRow(row: object, shape: Shape, run: Run, pending: Promise<void>[]): Record<string, unknown> {
  const source = row as Record<string, unknown>;
  if (isOwnAnswer(source, shape)) return source;
  const out = newObject();
  for (const field of shape.fields) {
    if (field.kind !== 'leaf') {
      out[field.key] = null;
      const filled = nestedValue(field, source, run).then((value) => void (out[field.key] = value));
      // Awaited with the others; if this row fails first, nobody awaits it, and its rejection must not go unhandled.
      filled.catch(() => {});
      pending.push(filled);
      continue;
    }
    if (field.serialize === null) {
      out[field.key] = shape.typename;
      continue;
    }
    const value = source[field.name];
    if (value === null || value === undefined) {
      // Execution would null the parent and report an error: let it.
      if (field.nonNull) throw FALL_THROUGH;
      out[field.key] = null;
      continue;
    }
    let serialized: unknown;
    try {
      serialized = field.serialize(value);
    } catch {
      throw FALL_THROUGH; // execution reports the scalar's error
    }
    if (serialized === undefined) throw FALL_THROUGH;
    out[field.key] = serialized;
  }
  return out;
}

/** Rows (null where none) as response values, once every nested load below them is done. */
async function shapeRows(rows: readonly (object | null)[], shape: Shape, run: Run): Promise<(Record<string, unknown> | null)[]> {
  const pending: Promise<void>[] = [];
  const out = rows.map((row) => (row === null ? null : shapeRow(row, shape, run, pending)));
  if (pending.length > 0) await Promise.all(pending);
  return out;
}

/** A key as a client sent it, in the entity's canonical form (its `parseKey`), else execution's BAD_USER_INPUT. */
export function idOf(entity: EntityDefinition<unknown>, raw: unknown): string {
  const id = typeof raw === 'string' ? entity.parseKey(raw) : undefined;
  if (id === undefined) throw FALL_THROUGH;
  return id;
}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/** Variables that GraphQL's Int or String would refuse to coerce (or a non-null one missing): execution reports them. */
function checkVariables(p: Plan, variables: Variables): void {
  for (const { name, type } of p.variables) {
    const value = own(variables, name);
    if (value === undefined || value === null) {
      if (type.endsWith('!')) throw FALL_THROUGH;
      continue;
    }
    if (type.startsWith('Int') && (typeof value !== 'number' || !Number.isInteger(value) || value < INT_MIN || value > INT_MAX)) throw FALL_THROUGH;
    if (type.startsWith('String') && typeof value !== 'string') throw FALL_THROUGH;
  }
}

/** The plan's root field's value. */
export async function run(p: Plan, context: RequestContext, variables: Variables): Promise<unknown> {
  checkVariables(p, variables);
  const r: Run = { loaders: context.loaders, variables };
  const raw = argumentOf(p, variables);
  if (p.kind === 'rootList') return listValue(p.field, ROOT_OWNER, r);
  if (p.kind === 'one') {
    const [row] = await readRows(p.route, r, [idOf(p.route.entity, raw)], p.shape.nested);
    if (row === undefined || row instanceof Error) throw FALL_THROUGH; // execution reads again and reports it
    const [value] = await shapeRows([row as object | null], p.shape, r);
    return value;
  }
  if (p.kind === 'many') {
    if (!Array.isArray(raw) || raw.length > MAX_LIST_LENGTH) throw FALL_THROUGH;
    const found = await readUnique(p.route, r, raw.map((id) => idOf(p.route.entity, id)), p.shape.nested);
    const rows = raw.map((_, i) => {
      const row = found.rows[found.slot[i] as number];
      if (row === undefined || row instanceof Error) throw FALL_THROUGH;
      return row as object | null;
    });
    return shapeRows(rows, p.shape, r);
  }
  // More than the entities limit would allow is its refusal to make.
  if (!Array.isArray(raw) || raw.length > MAX_LIST_LENGTH) throw FALL_THROUGH;
  const { shapes } = p;
  // Every representation is checked before any load starts, so no load is left without a handler.
  const targets = raw.map((representation: unknown) => {
    if (!isRecord(representation)) throw FALL_THROUGH;
    const typename = own(representation, '__typename');
    const target = typeof typename === 'string' ? shapes.get(typename) : undefined;
    if (!target || Object.keys(representation).length !== 2) throw FALL_THROUGH;
    const { entity } = target.route;
    const key = own(representation, entity.key.field);
    if (key === undefined) throw FALL_THROUGH;
    // __resolveReference resolves a malformed key to null.
    return { target, id: typeof key === 'string' || typeof key === 'number' ? entity.parseKey(String(key)) : undefined };
  });
  // One read per type for all its ids, as execution's DataLoader batch would make.
  const byRoute = new Map<EntityRoute, { ids: string[]; nested: boolean }>();
  for (const { target, id } of targets) {
    if (id === undefined) continue;
    const reads = byRoute.get(target.route);
    if (reads) reads.ids.push(id);
    else byRoute.set(target.route, { ids: [id], nested: target.shape.nested });
  }
  const found = new Map<EntityRoute, Map<string, object | null>>();
  await Promise.all(
    [...byRoute].map(async ([route, { ids, nested }]) => {
      const { unique, rows } = await readUnique(route, r, ids, nested);
      const byId = new Map<string, object | null>();
      rows.forEach((row, i) => {
        if (row instanceof Error) throw FALL_THROUGH;
        byId.set(unique[i] as string, row as object | null);
      });
      found.set(route, byId);
    }),
  );
  const pending: Promise<void>[] = [];
  const out = targets.map(({ target, id }) => {
    const row = id === undefined ? null : (found.get(target.route)?.get(id) ?? null);
    return row === null ? null : shapeRow(row, target.shape, r, pending);
  });
  if (pending.length > 0) await Promise.all(pending);
  return out;
}

/**
 * Rows by id. With nothing nested, one read straight through the reader (no
 * per-key promise); with nested fields, through the request's DataLoader, as
 * the resolvers read, so that a relation below to a row read here costs no
 * second read.
 */
function readRows(route: EntityRoute, r: Run, ids: readonly string[], nested: boolean): Promise<unknown[]> {
  return nested ? r.loaders.of(route.entity).loadMany(ids) : r.loaders.read(route.entity, ids);
}

/** Reads each distinct id once (as a DataLoader would); `slot[i]` is where `ids[i]`'s row is. */
async function readUnique(
  route: EntityRoute,
  r: Run,
  ids: readonly string[],
  nested: boolean,
): Promise<{ unique: readonly string[]; slot: readonly number[]; rows: unknown[] }> {
  const index = new Map<string, number>();
  const unique: string[] = [];
  const slot = ids.map((id) => {
    let at = index.get(id);
    if (at === undefined) {
      at = unique.push(id) - 1;
      index.set(id, at);
    }
    return at;
  });
  return { unique, slot, rows: await readRows(route, r, unique, nested) };
}

/** A field with loads of its own: a relation, a plain list or a connection of the row `parent`. */
async function nestedValue(field: Exclude<FieldPlan, { kind: 'leaf' }>, parent: Row, r: Run): Promise<unknown> {
  if (field.kind === 'relation') {
    const key = parent[field.relation.by];
    // A nullable foreign key that holds NULL points at nothing, as the resolver says.
    if (key === null || key === undefined) {
      if (field.nonNull) throw FALL_THROUGH;
      return null;
    }
    const [row] = await r.loaders.of(field.target.entity).loadMany([String(key)]);
    if (row === undefined || row instanceof Error || (row === null && field.nonNull)) throw FALL_THROUGH;
    const [value] = await shapeRows([row as object | null], field.shape, r);
    return value;
  }
  const { list } = field;
  return listValue(field, list.owner === undefined ? ROOT_OWNER : String(parent[list.owner.key.field]), r);
}

/** A list's members on a page, in order, with their keys; members deleted since the list was read are left out (connections.ts). */
async function membersOf(list: ListDefinition, ids: readonly string[], r: Run): Promise<{ id: string; row: Row }[]> {
  if (ids.length === 0) return [];
  const rows = await r.loaders.of(list.member).loadMany(ids);
  const members: { id: string; row: Row }[] = [];
  rows.forEach((row, i) => {
    if (row instanceof Error) throw FALL_THROUGH;
    if (row !== null) members.push({ id: ids[i] as string, row: row as Row });
  });
  return members;
}

/** What a resolver's coded BAD_USER_INPUT would be: execution reports it. Any other error is a bug, rethrown. */
function orFallThrough<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof GraphQLError && err.extensions['code'] === 'BAD_USER_INPUT') throw FALL_THROUGH;
    throw err;
  }
}

async function listValue(field: PlainListPlan | ConnectionPlan, owner: string, r: Run): Promise<unknown> {
  if (field.kind === 'list') {
    const page = await tryReadPage(r.loaders, field.list, owner, field.max, undefined);
    if (page instanceof Error) throw FALL_THROUGH;
    const members = await membersOf(field.list, page.ids, r);
    return shapeRows(
      members.map((m) => m.row),
      field.shape,
      r,
    );
  }
  return connectionValue(field, owner, r);
}

/** A page of a connection, as connections.ts builds it and graphql-js serializes it. */
async function connectionValue(field: ConnectionPlan, owner: string, r: Run): Promise<Record<string, unknown>> {
  const { list } = field;
  const givenFirst = field.first === undefined ? undefined : valueOf(field.first, r.variables);
  const first = orFallThrough(() => firstOf(givenFirst === undefined ? field.firstDefault : givenFirst));
  const rawAfter = field.after === undefined ? undefined : valueOf(field.after, r.variables);
  if (rawAfter !== undefined && rawAfter !== null && typeof rawAfter !== 'string') throw FALL_THROUGH;
  const after: PageAfter = typeof rawAfter === 'string' ? orFallThrough(() => decodeCursor(rawAfter, list, owner)) : undefined;
  const page = await tryReadPage(r.loaders, list, owner, first, after);
  if (page instanceof Error) throw FALL_THROUGH;
  // The resolver loads the members for edges, nodes and pageInfo (its cursors), whichever is asked.
  const members = field.parts.some((part) => part.kind !== 'totalCount' && part.kind !== 'typename') ? await membersOf(list, page.ids, r) : [];
  const cursors: (string | undefined)[] = [];
  const cursorOf = (i: number): string => {
    let cursor = cursors[i];
    if (cursor === undefined) {
      const m = members[i] as { id: string; row: Row };
      cursor = cursors[i] = encodeCursor(list, owner, m.id, list.order.map((o) => m.row[o.column.field]));
    }
    return cursor;
  };
  const pending: Promise<void>[] = [];
  const out = newObject();
  for (const part of field.parts) {
    switch (part.kind) {
      case 'typename':
        out[part.key] = field.typenames.connection;
        break;
      case 'totalCount':
        out[part.key] = page.total;
        break;
      case 'nodes':
        out[part.key] = members.map((m) => shapeRow(m.row, part.shape, r, pending));
        break;
      case 'edges':
        out[part.key] = members.map((m, i) => {
          const edge = newObject();
          for (const e of part.parts) {
            edge[e.key] = e.kind === 'typename' ? field.typenames.edge : e.kind === 'cursor' ? cursorOf(i) : shapeRow(m.row, e.shape, r, pending);
          }
          return edge;
        });
        break;
      case 'pageInfo': {
        const info = newObject();
        for (const { key, name } of part.parts) {
          if (name === 'hasNextPage') info[key] = page.hasNext;
          else if (name === 'hasPreviousPage') info[key] = after !== undefined;
          else if (name === 'startCursor') info[key] = members.length === 0 ? null : cursorOf(0);
          else if (name === 'endCursor') info[key] = members.length === 0 ? null : cursorOf(members.length - 1);
          else info[key] = field.typenames.pageInfo;
        }
        out[part.key] = info;
        break;
      }
    }
  }
  if (pending.length > 0) await Promise.all(pending);
  return out;
}

/** The response body's `data`: one root key, as an own key whatever its name. */
export function dataOf(key: string, value: unknown): Record<string, unknown> {
  const data = newObject();
  data[key] = value;
  return data;
}
