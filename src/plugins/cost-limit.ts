import { performance } from 'node:perf_hooks';
import type { ApolloServerPlugin, GraphQLRequest, GraphQLRequestListener } from '@apollo/server';
import {
  GraphQLError,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  type DocumentNode,
  type FieldNode,
  type GraphQLArgument,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type GraphQLType,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { waitedTooLong } from '../errors.js';
import type { Admission, Ticket } from './admission.js';
import { argumentsOf, coercedVariables, type Values } from './request-values.js';
import { fragmentsOf, selectionWalker, type SelectionWalk } from './selection-walk.js';

/**
 * How long the lists of the schema may be, where no argument says it: the
 * cost of a list field is its bound times what one item costs, so every list
 * field must have one (`checkListBounds` refuses a schema where one has none).
 */
export interface ListBounds {
  /** Most items of a list field that takes no list argument, by `Type.field` (`Order.lines` -> 100). */
  readonly fields: ReadonlyMap<string, number>;
  /** Most rows one page of a connection may hold: a connection's `first` counts as at most this. */
  readonly maxPage: number;
}

export interface CostModel extends ListBounds {
  readonly schema: GraphQLSchema;
}

/**
 * The cost of an operation, in rows and objects it may ask for (see
 * docs/security.md, where the rules are listed with examples):
 * - a field returning an object costs 1 plus what it selects; a scalar costs 0;
 * - a list field costs its bound times (1 + what one item selects); the bound is
 *   the total length of its list arguments (`products(ids)`, `_entities`,
 *   `adjustStocks(changes)`), else its entry in `ListBounds.fields`;
 * - a field given lists that returns one object (`placeOrder(lines)`) costs their
 *   total length (at least 1) plus what it selects: those are the rows it touches;
 * - a connection costs 1 + `first` (the page it reads) plus `first` times what
 *   `edges` and `nodes` select below the row: the two select the same rows, so a
 *   row counts once and everything below it counts for each part that selects it;
 *   `first` is the coerced argument (null means its default) capped at `maxPage`;
 * - each root field costs at least 1; `__schema` and `__type` read no data and
 *   cost only that (graphql-js' MaxIntrospectionDepthRule bounds them).
 *
 * Variables count with the values execution gives them (graphql-js' coercion,
 * defaults included), so a list sent as a default value costs what it costs
 * when sent as a variable. Fragments count once per spread and `@skip`/`@include`
 * are ignored: the cost is an upper bound.
 */
export function operationCost(
  model: CostModel,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Values,
): number {
  const root = model.schema.getRootType(operation.operation);
  if (root === undefined || root === null) return 0;
  const walk = selectionWalker(fragmentsOf(document), costWalk(model, variables));
  return walk(operation.selectionSet, { type: root, kind: 'root', page: 0 });
}

/**
 * Where a selection set is walked: `connection` is a connection's own selection
 * (its `edges` and `nodes` hold `page` rows, counted by the connection field), `edge`
 * one edge of it (whose `node` is that row).
 */
interface Place {
  readonly type: GraphQLCompositeType;
  readonly kind: 'root' | 'object' | 'connection' | 'edge';
  readonly page: number;
}

const own = (values: Values, key: string): unknown => (Object.hasOwn(values, key) ? values[key] : undefined);

function costWalk(model: CostModel, variables: Values): SelectionWalk<number, Place> {
  const objectPlace = (type: GraphQLNamedType): Place | undefined => (isCompositeType(type) ? { type, kind: 'object', page: 0 } : undefined);

  const fieldCost = (field: GraphQLField<unknown, unknown>, node: FieldNode, place: Place, inner: (set: SelectionSetNode, place: Place) => number): number => {
    const args = argumentsOf(field, node, variables);
    // Execution fails such a field before its resolver runs, and runs nothing below it.
    if (args === undefined) return 1;
    const given = listArgumentsLength(field.args, args);
    const named = getNamedType(field.type);
    const below = (at: Place | undefined): number => (at !== undefined && node.selectionSet ? inner(node.selectionSet, at) : 0);

    if (isListType(getNullableType(field.type))) {
      const bound = given ?? (place.kind === 'connection' && isPagePart(field.name) ? place.page : model.fields.get(`${place.type.name}.${field.name}`));
      if (bound === undefined) throw new Error(`${place.type.name}.${field.name} has no list bound; checkListBounds should have refused this schema`);
      // The connection field has counted these rows already.
      if (place.kind === 'connection') return bound * below(field.name === 'edges' && isCompositeType(named) ? { type: named, kind: 'edge', page: 0 } : objectPlace(named));
      return bound * (1 + below(objectPlace(named)));
    }
    if (place.kind === 'edge' && field.name === 'node') return below(objectPlace(named));
    if (isConnection(named)) {
      const page = pageSize(field, args, model.maxPage);
      return 1 + page + below({ type: named, kind: 'connection', page });
    }
    if (!isCompositeType(named)) return given ?? 0;
    return Math.max(1, given ?? 1) + below(objectPlace(named));
  };

  return {
    empty: 0,
    add: (a, b) => a + b,
    field(node, place, inner) {
      const name = node.name.value;
      // `__typename` is a scalar; `__schema` and `__type` read the schema, not data.
      const field = name.startsWith('__') ? undefined : fieldsOf(place.type)?.[name];
      // An unknown field never gets here (validation refuses it): only the meta fields do.
      const cost = field === undefined ? 0 : fieldCost(field, node, place, inner);
      return place.kind === 'root' ? Math.max(1, cost) : cost;
    },
    enter(typeCondition, place) {
      if (typeCondition === undefined || typeCondition === place.type.name) return place;
      const type = model.schema.getType(typeCondition);
      return type !== undefined && isCompositeType(type) ? { type, kind: 'object', page: 0 } : place;
    },
    key: (place) => `${place.type.name}:${place.kind}:${place.page}`,
  };
}

const isPagePart = (name: string): boolean => name === 'edges' || name === 'nodes';

function fieldsOf(type: GraphQLCompositeType): Record<string, GraphQLField<unknown, unknown>> | undefined {
  return isObjectType(type) || isInterfaceType(type) ? type.getFields() : undefined;
}

const isListArgument = (arg: GraphQLArgument): boolean => isListType(getNullableType(arg.type));

/** The total length of the list arguments given, or undefined for a field that takes none. */
function listArgumentsLength(declared: readonly GraphQLArgument[], args: Values): number | undefined {
  let total: number | undefined;
  for (const arg of declared) {
    if (!isListArgument(arg)) continue;
    const value = own(args, arg.name);
    total = (total ?? 0) + (Array.isArray(value) ? value.length : 0);
  }
  return total;
}

/** A connection's page: its `first`, or the argument's default when null or absent, at most `maxPage`. */
function pageSize(field: GraphQLField<unknown, unknown>, args: Values, maxPage: number): number {
  const first = own(args, 'first');
  const fallback = field.args.find((arg) => arg.name === 'first')?.defaultValue;
  const asked = typeof first === 'number' ? first : typeof fallback === 'number' ? fallback : maxPage;
  return Math.min(maxPage, Math.max(0, asked));
}

/**
 * A connection as the Cursor Connections spec defines one: an object type named
 * `*Connection` with `edges` and `pageInfo` (ours also have `nodes`).
 */
function isConnection(type: GraphQLNamedType): type is GraphQLObjectType {
  if (!isObjectType(type) || !type.name.endsWith('Connection')) return false;
  const fields = type.getFields();
  return fields['edges'] !== undefined && fields['pageInfo'] !== undefined;
}

const listDepth = (type: GraphQLType): number => {
  const nullable = getNullableType(type);
  return isListType(nullable) ? 1 + listDepth(nullable.ofType) : 0;
};

/**
 * Refuses, naming each field, a schema with a list field whose length nothing
 * bounds: no list argument, not a connection's `edges`/`nodes`, no entry in
 * `bounds.fields`. A new list field cannot then escape the cost limit. Also
 * refused: a field returning a connection without an Int `first`, a list of
 * lists, and an entry of `bounds.fields` that names no list field.
 */
export function checkListBounds(schema: GraphQLSchema, bounds: ListBounds): void {
  const problems: string[] = [];
  const listFields = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    // Introspection's own types describe the schema: bounded by MaxIntrospectionDepthRule, not by the cost.
    if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
    const connection = isConnection(type);
    for (const field of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${field.name}`;
      if (isConnection(getNamedType(field.type)) && !field.args.some((a) => a.name === 'first' && getNamedType(a.type).name === 'Int')) {
        problems.push(`${coordinate} returns a connection but takes no \`first: Int\` to bound its page`);
      }
      const depth = listDepth(field.type);
      if (depth === 0) continue;
      listFields.add(coordinate);
      if (depth > 1) problems.push(`${coordinate} is a list of lists, which the cost has no bound for`);
      else if (!field.args.some(isListArgument) && !(connection && isPagePart(field.name)) && !bounds.fields.has(coordinate)) {
        problems.push(`${coordinate} is a list with no bound: give it a list argument, or give it an entry in the list bounds`);
      }
    }
  }
  for (const coordinate of bounds.fields.keys()) {
    if (!listFields.has(coordinate)) problems.push(`the list bounds name ${coordinate}, which is not a list field of the schema`);
  }
  if (problems.length > 0) throw new Error(`The cost limit cannot bound every list of this schema: ${problems.join('; ')}`);
}

export interface CostLimitOptions extends ListBounds {
  /** @default 1000 */
  readonly maxCost?: number;
  /** Where requests take their turn by cost once accepted (admission.ts). @default undefined (no line: all run at once) */
  readonly admission?: Admission;
}

/**
 * Refuses an operation whose cost (see `operationCost`) is above `maxCost`,
 * with GRAPHQL_VALIDATION_FAILED and HTTP 400, before anything is executed.
 * Lists usually arrive as variables, which validation never sees, so the cost
 * is settled per request in `didResolveOperation`: after validation, before
 * execution. A schema with an unbounded list field fails the server's start.
 * An accepted request then takes its turn in `admission`, by its cost, and
 * gives it back when its response is sent.
 */
export function costLimitPlugin<TContext extends object>(options: CostLimitOptions): ApolloServerPlugin<TContext> {
  const maxCost = options.maxCost ?? 1000;
  const { admission } = options;
  const tickets = new WeakMap<GraphQLRequest, Ticket>();
  // One listener for every request: the hooks get everything they need as their argument.
  const listener: GraphQLRequestListener<TContext> = {
    async didResolveOperation({ document, operation, request, schema, response }) {
      if (operation === undefined) return;
      const variables = coercedVariables(schema, operation, request);
      if (variables === undefined) return;
      const cost = operationCost({ ...options, schema }, document, operation, variables);
      if (cost > maxCost) {
        throw new GraphQLError(
          `The operation costs ${cost}; at most ${maxCost} is allowed (each object it may return costs 1, and a list multiplies what it selects by its length: see docs/security.md)`,
          { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'MAX_COST', max: maxCost, cost, http: { status: 400 } } },
        );
      }
      if (admission === undefined) return;
      const began = performance.now();
      const ticket = admission.enter(cost);
      tickets.set(request, ticket);
      if (await ticket.admitted) return;
      // Like a field's error, so that a router shows it (a non-2xx answer loses its errors).
      response.http.status = 200;
      throw waitedTooLong(Math.round(performance.now() - began));
    },
    async willSendResponse({ request }) {
      const ticket = tickets.get(request);
      if (ticket === undefined) return;
      tickets.delete(request);
      admission?.leave(ticket);
    },
  };
  return {
    async serverWillStart({ schema }) {
      checkListBounds(schema, options);
    },
    requestDidStart: async () => listener,
  };
}
