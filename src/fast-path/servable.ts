import {
  getNamedType,
  getNullableType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import type { Relation } from '../entities/define.js';
import type { ListDefinition } from '../entities/lists.js';
import type { ListBounds } from '../plugins/cost-limit.js';
import type { EntityRoute } from './routes.js';

/**
 * What the schema lets the fast path read, found once when the server starts:
 * per served type, its scalar fields with the default resolver, its to-one
 * relations to served types, and its lists (plain lists, and connections whose
 * types are the shape connections.ts builds); the root lists; the cost limit's
 * list bounds. plan.ts plans operations against it.
 */

/** The fields of a page's `pageInfo` that the fast path answers. */
export const PAGE_INFO_FIELDS = ['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename'] as const;

/** `__typename` of a connection, its edges and its page info. */
export interface ConnectionTypenames {
  readonly connection: string;
  readonly edge: string;
  readonly pageInfo: string;
}

export type LeafField = { readonly serialize: (v: unknown) => unknown; readonly nonNull: boolean };

export interface ListField {
  readonly list: ListDefinition;
  readonly field: GraphQLField<unknown, unknown>;
  /** For a connection, its types' names; undefined for a plain list. */
  readonly typenames: ConnectionTypenames | undefined;
}

export interface TypeFields {
  readonly leaves: ReadonlyMap<string, LeafField>;
  readonly relations: ReadonlyMap<string, { readonly relation: Relation; readonly target: EntityRoute; readonly nonNull: boolean }>;
  readonly lists: ReadonlyMap<string, ListField>;
}

/** What the schema allows the fast path to read: per served type, its scalars with the default resolver, its relations and lists. */
export interface Servable {
  readonly routes: readonly EntityRoute[];
  readonly types: ReadonlyMap<string, TypeFields>;
  /** Root lists, by their `Query` field. */
  readonly rootLists: ReadonlyMap<string, ListField>;
  readonly bounds: ListBounds;
}

export const emptyServable = (routes: readonly EntityRoute[], bounds: ListBounds): Servable => ({ routes, types: new Map(), rootLists: new Map(), bounds });

/** Only fields that read a property of an object already built, with no arguments. */
const isPlainField = (type: GraphQLObjectType, name: string): GraphQLField<unknown, unknown> | undefined => {
  const field = type.getFields()[name];
  return field !== undefined && field.resolve === undefined && field.args.length === 0 ? field : undefined;
};

/** The connection's types, when they are the shape connections.ts builds (and the cost limit counts); else undefined. */
function connectionTypes(field: GraphQLField<unknown, unknown>, list: ListDefinition): ConnectionTypenames | undefined {
  const connection = getNamedType(field.type);
  if (!isObjectType(connection)) return undefined;
  const edges = isPlainField(connection, 'edges');
  const nodes = isPlainField(connection, 'nodes');
  const pageInfo = isPlainField(connection, 'pageInfo');
  if (!edges || !nodes || !pageInfo || !isPlainField(connection, 'totalCount')) return undefined;
  const edge = getNamedType(edges.type);
  const info = getNamedType(pageInfo.type);
  if (!isObjectType(edge) || !isObjectType(info) || getNamedType(nodes.type).name !== list.member.type) return undefined;
  const node = isPlainField(edge, 'node');
  if (!node || !isPlainField(edge, 'cursor') || getNamedType(node.type).name !== list.member.type) return undefined;
  if (PAGE_INFO_FIELDS.some((name) => name !== '__typename' && !isPlainField(info, name))) return undefined;
  const args = field.args.map((a) => a.name).sort();
  if (args.join() !== 'after,first') return undefined;
  return { connection: connection.name, edge: edge.name, pageInfo: info.name };
}

export function servableOf(schema: GraphQLSchema, routes: readonly EntityRoute[], lists: readonly ListDefinition[], bounds: ListBounds): Servable {
  const types = new Map<string, TypeFields>();
  const listField = (list: ListDefinition, type: GraphQLObjectType): ListField | undefined => {
    const field = type.getFields()[list.field];
    if (field === undefined || !routes.some((r) => r.type === list.member.type)) return undefined;
    if (list.serve.kind === 'list') {
      const ok = field.args.length === 0 && isListType(getNullableType(field.type)) && getNamedType(field.type).name === list.member.type;
      return ok ? { list, field, typenames: undefined } : undefined;
    }
    const typenames = connectionTypes(field, list);
    return typenames && { list, field, typenames };
  };
  for (const route of routes) {
    const type = schema.getType(route.type);
    if (!isObjectType(type)) continue;
    const leaves = new Map<string, LeafField>();
    for (const field of Object.values(type.getFields())) {
      const named = getNullableType(field.type);
      if (field.resolve !== undefined || field.args.length > 0 || !isScalarType(named)) continue;
      leaves.set(field.name, { serialize: (v) => named.serialize(v), nonNull: isNonNullType(field.type) });
    }
    const relations = new Map<string, { relation: Relation; target: EntityRoute; nonNull: boolean }>();
    for (const relation of route.entity.relations) {
      const field = type.getFields()[relation.field];
      const target = routes.find((r) => r.type === relation.to);
      if (relation.on !== route.type || !field || !target || field.args.length > 0 || getNamedType(field.type).name !== relation.to) continue;
      if (isListType(getNullableType(field.type))) continue;
      relations.set(relation.field, { relation, target, nonNull: isNonNullType(field.type) });
    }
    const byField = new Map<string, ListField>();
    for (const list of lists) {
      if (list.on !== route.type) continue;
      const found = listField(list, type);
      if (found) byField.set(list.field, found);
    }
    types.set(route.type, { leaves, relations, lists: byField });
  }
  const rootLists = new Map<string, ListField>();
  const query = schema.getQueryType();
  for (const list of lists) {
    if (list.on !== 'Query' || !query) continue;
    const found = listField(list, query);
    if (found) rootLists.set(list.field, found);
  }
  return { routes, types, rootLists, bounds };
}
