import {
  Kind,
  getNullableType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type TypeNode,
  type ValueNode,
} from 'graphql';
import type { EntityRoute } from './routes.js';

/**
 * Which operations the fast path may answer, decided once per parsed operation:
 * one root field (`one(id)`, `many(ids)` of a served type, or `_entities`)
 * selecting only scalar fields with the default resolver, with no fragments
 * spread, no directives and at most the one variable it reads. Anything else is
 * `null`: execution answers it.
 */

/** One selected leaf: where it goes in the response, and how its value is serialized. */
export interface LeafPlan {
  readonly key: string;
  readonly name: string;
  /** The schema's own scalar serializer; null for `__typename`. */
  readonly serialize: ((value: unknown) => unknown) | null;
  readonly nonNull: boolean;
}

export interface Shape {
  readonly typename: string;
  readonly leaves: readonly LeafPlan[];
  /** No aliases, no `__typename`, no field twice: a row with exactly these keys, in this order, is its own answer. */
  readonly plain: boolean;
}

export type Arg = { readonly variable: string } | { readonly literal: unknown };

export interface RootPlan<K extends 'one' | 'many'> {
  readonly kind: K;
  readonly key: string;
  readonly route: EntityRoute;
  readonly arg: Arg;
  readonly shape: Shape;
}

export interface EntitiesPlan {
  readonly kind: 'entities';
  readonly key: string;
  readonly arg: Arg;
  readonly shapes: ReadonlyMap<string, { readonly route: EntityRoute; readonly shape: Shape }>;
}

export type Plan = RootPlan<'one'> | RootPlan<'many'> | EntitiesPlan;

type LeafField = { readonly serialize: (v: unknown) => unknown; readonly nonNull: boolean };

/** What the schema allows the fast path to read: per served type, its scalar fields with the default resolver. */
export interface Servable {
  readonly routes: readonly EntityRoute[];
  readonly leafFields: ReadonlyMap<string, ReadonlyMap<string, LeafField>>;
}

export function servableOf(schema: GraphQLSchema, routes: readonly EntityRoute[]): Servable {
  const leafFields = new Map<string, Map<string, LeafField>>();
  for (const route of routes) {
    const type = schema.getType(route.type);
    if (!isObjectType(type)) continue;
    const fields = new Map<string, LeafField>();
    for (const field of Object.values(type.getFields())) {
      const named = getNullableType(field.type);
      if (field.resolve !== undefined || field.args.length > 0 || !isScalarType(named)) continue;
      fields.set(field.name, { serialize: (v) => named.serialize(v), nonNull: isNonNullType(field.type) });
    }
    leafFields.set(route.type, fields);
  }
  return { routes, leafFields };
}

const typeString = (t: TypeNode): string =>
  t.kind === Kind.NAMED_TYPE ? t.name.value : t.kind === Kind.LIST_TYPE ? `[${typeString(t.type)}]` : `${typeString(t.type)}!`;

function literalOf(value: ValueNode): unknown {
  if (value.kind === Kind.STRING) return value.value;
  if (value.kind === Kind.LIST) return value.values.map(literalOf);
  return undefined; // anything else: leave it to execution
}

/** Plain leaf fields of one type, or undefined when the selection is anything more. */
function planShape(selections: readonly SelectionNode[], typename: string, servable: Servable): Shape | undefined {
  const fields = servable.leafFields.get(typename);
  if (!fields) return undefined;
  const leaves: LeafPlan[] = [];
  const names = new Set<string>();
  let plain = true;
  for (const s of selections) {
    if (s.kind !== Kind.FIELD || s.directives?.length || s.selectionSet || s.arguments?.length) return undefined;
    const name = s.name.value;
    const key = s.alias?.value ?? name;
    if (key !== name || name === '__typename' || names.has(name)) plain = false;
    names.add(name);
    if (name === '__typename') {
      leaves.push({ key, name, serialize: null, nonNull: true });
      continue;
    }
    const field = fields.get(name);
    if (!field) return undefined;
    leaves.push({ key, name, serialize: field.serialize, nonNull: field.nonNull });
  }
  return { typename, leaves, plain };
}

export function plan(operation: OperationDefinitionNode, servable: Servable): Plan | null {
  if (operation.operation !== 'query' || operation.directives?.length) return null;
  const [root, ...rest] = operation.selectionSet.selections;
  if (!root || rest.length > 0 || root.kind !== Kind.FIELD || root.directives?.length || !root.selectionSet) return null;
  const [argument, ...moreArgs] = root.arguments ?? [];
  if (!argument || moreArgs.length > 0) return null;
  const variables = operation.variableDefinitions ?? [];
  // Every declared variable must be the one this field uses, with no default: then no other variable can fail coercion.
  let arg: Arg;
  let expectedType: string | undefined;
  if (argument.value.kind === Kind.VARIABLE) {
    const name = argument.value.name.value;
    const definition = variables[0];
    if (variables.length !== 1 || definition?.variable.name.value !== name || definition.defaultValue || definition.directives?.length) return null;
    arg = { variable: name };
    expectedType = typeString(definition.type);
  } else {
    if (variables.length > 0) return null;
    arg = { literal: literalOf(argument.value) };
  }
  const field = root.name.value;
  const key = root.alias?.value ?? field;
  const argName = argument.name.value;

  if (field === '_entities') {
    if (argName !== 'representations' || (expectedType !== undefined && expectedType !== '[_Any!]!') || !('variable' in arg)) return null;
    const shapes = new Map<string, { route: EntityRoute; shape: Shape }>();
    for (const s of root.selectionSet.selections) {
      if (s.kind !== Kind.INLINE_FRAGMENT || s.directives?.length || !s.typeCondition) return null;
      const typename = s.typeCondition.name.value;
      const route = servable.routes.find((r) => r.type === typename);
      const shape = route && planShape(s.selectionSet.selections, typename, servable);
      if (!route || !shape || shapes.has(typename)) return null;
      shapes.set(typename, { route, shape });
    }
    return shapes.size === 0 ? null : { kind: 'entities', key, arg, shapes };
  }
  for (const route of servable.routes) {
    const kind = field === route.one ? 'one' : field === route.many ? 'many' : undefined;
    if (kind === undefined) continue;
    if (argName !== (kind === 'one' ? 'id' : 'ids')) return null;
    if (expectedType !== undefined && expectedType !== (kind === 'one' ? 'ID!' : '[ID!]!')) return null;
    const shape = planShape(root.selectionSet.selections, route.type, servable);
    if (!shape) return null;
    return kind === 'one' ? { kind, key, route, arg, shape } : { kind, key, route, arg, shape };
  }
  return null;
}

/** `record[key]` if it is the record's own: a request's variables and representations are never read through a prototype. */
export const own = (record: Readonly<Record<string, unknown>> | undefined, key: string): unknown =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;

/** The value the plan's root field is given in this request. */
export const argumentOf = (p: Plan, variables: Record<string, unknown> | undefined): unknown =>
  'variable' in p.arg ? own(variables, p.arg.variable) : p.arg.literal;

/** The length of the plan's list argument in this request (0 for a single id). */
export function listLength(p: Plan, variables: Record<string, unknown> | undefined): number {
  const raw = argumentOf(p, variables);
  return Array.isArray(raw) ? raw.length : 0;
}
