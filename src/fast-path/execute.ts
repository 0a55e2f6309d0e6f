import type { RequestContext } from '../context.js';
import { canonicalId } from '../ids.js';
import { MAX_LIST_LENGTH } from '../validation.js';
import { argumentOf, own, type Plan, type Shape } from './plan.js';
import type { EntityRoute } from './routes.js';

/**
 * Runs a plan through the request's own loaders and builds the response value
 * execution would build. Whenever execution would do something else (report an
 * error, null a parent, coerce an odd value), it throws FALL_THROUGH and
 * execution answers instead; every other exception is a bug and is rethrown.
 */

/** Thrown to hand the request to normal execution. Nothing else may be caught silently. */
export const FALL_THROUGH: unique symbol = Symbol('fall through');

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An object with no prototype: a response key such as `__proto__` (an alias) is an own key, as graphql-js makes it. */
export const newObject = (): Record<string, unknown> => Object.create(null) as Record<string, unknown>;

/**
 * True when the row, as decoded from the cache, already is the answer: the same keys
 * in the same order, each value one that its scalar serializes to itself. Then it is
 * used as is (JSON.stringify gives the same text) and no copy is made: on a list of
 * 100 rows those copies were a large part of the garbage.
 */
function isOwnAnswer(row: Record<string, unknown>, shape: Shape): boolean {
  if (!shape.plain) return false;
  let i = 0;
  for (const key in row) {
    const leaf = shape.leaves[i++];
    if (leaf === undefined || leaf.name !== key || leaf.serialize === null) return false;
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
  return i === shape.leaves.length;
}

function shapeRow(row: object, shape: Shape): Record<string, unknown> {
  const source = row as Record<string, unknown>;
  if (isOwnAnswer(source, shape)) return source;
  const out = newObject();
  for (const leaf of shape.leaves) {
    if (leaf.serialize === null) {
      out[leaf.key] = shape.typename;
      continue;
    }
    const value = source[leaf.name];
    if (value === null || value === undefined) {
      // Execution would null the parent and report an error: let it.
      if (leaf.nonNull) throw FALL_THROUGH;
      out[leaf.key] = null;
      continue;
    }
    let serialized: unknown;
    try {
      serialized = leaf.serialize(value);
    } catch {
      throw FALL_THROUGH; // execution reports the scalar's error
    }
    if (serialized === undefined) throw FALL_THROUGH;
    out[leaf.key] = serialized;
  }
  return out;
}

const idOf = (raw: unknown): string => {
  const id = typeof raw === 'string' ? canonicalId(raw) : undefined;
  if (id === undefined) throw FALL_THROUGH; // the resolver's BAD_USER_INPUT, from execution
  return id;
};

/** The value of the plan's root field. */
export async function run(p: Plan, context: RequestContext, variables: Record<string, unknown> | undefined): Promise<unknown> {
  const raw = argumentOf(p, variables);
  if (p.kind === 'one') {
    const [row] = await context.loaders.read(p.route.entity, [idOf(raw)]);
    if (row === undefined || row instanceof Error) throw FALL_THROUGH; // execution reads again and reports it
    return row === null ? null : shapeRow(row, p.shape);
  }
  if (p.kind === 'many') {
    if (!Array.isArray(raw) || raw.length > MAX_LIST_LENGTH) throw FALL_THROUGH;
    const found = await readUnique(p.route, context, raw.map(idOf));
    return raw.map((_, i) => {
      const row = found.rows[found.slot[i] as number];
      if (row === undefined || row instanceof Error) throw FALL_THROUGH;
      return row === null ? null : shapeRow(row, p.shape);
    });
  }
  if (!Array.isArray(raw)) throw FALL_THROUGH;
  const { shapes } = p;
  // Every representation is checked before any load starts, so no load is left without a handler.
  const targets = raw.map((representation: unknown) => {
    if (!isRecord(representation)) throw FALL_THROUGH;
    const typename = own(representation, '__typename');
    const id = own(representation, 'id');
    const target = typeof typename === 'string' ? shapes.get(typename) : undefined;
    if (!target || typeof id !== 'string' || Object.keys(representation).length !== 2) throw FALL_THROUGH;
    // __resolveReference resolves a malformed id to null.
    return { target, id: canonicalId(id) };
  });
  // One read per type for all its ids, as execution's DataLoader batch would make.
  const byRoute = new Map<EntityRoute, string[]>();
  for (const { target, id } of targets) {
    if (id === undefined) continue;
    const list = byRoute.get(target.route);
    if (list) list.push(id);
    else byRoute.set(target.route, [id]);
  }
  const found = new Map<EntityRoute, Map<string, object | null>>();
  await Promise.all(
    [...byRoute].map(async ([route, ids]) => {
      const { unique, rows } = await readUnique(route, context, ids);
      const byId = new Map<string, object | null>();
      rows.forEach((row, i) => {
        if (row instanceof Error) throw FALL_THROUGH;
        byId.set(unique[i] as string, row as object | null);
      });
      found.set(route, byId);
    }),
  );
  return targets.map(({ target, id }) => {
    const row = id === undefined ? null : (found.get(target.route)?.get(id) ?? null);
    return row === null ? null : shapeRow(row, target.shape);
  });
}

/** Reads each distinct id once (as a DataLoader would); `slot[i]` is where `ids[i]`'s row is. */
async function readUnique(
  route: EntityRoute,
  context: RequestContext,
  ids: readonly string[],
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
  return { unique, slot, rows: await context.loaders.read(route.entity, unique) };
}

/** The response body's `data`: one root key, as an own key whatever its name. */
export function dataOf(key: string, value: unknown): Record<string, unknown> {
  const data = newObject();
  data[key] = value;
  return data;
}
