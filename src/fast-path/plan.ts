import { Kind, type ArgumentNode, type OperationDefinitionNode, type SelectionNode, type TypeNode, type ValueNode } from 'graphql';
import type { Relation } from '../entities/define.js';
import type { ListDefinition } from '../entities/lists.js';
import type { EntityRoute } from './routes.js';
import { PAGE_INFO_FIELDS, type ConnectionTypenames, type ListField, type Servable } from './servable.js';

/**
 * Which operations the fast path may answer, decided once per parsed operation:
 * one root field (`one(id)`, `many(ids)` of a served type, `_entities`, or a root
 * list such as `productCatalog`) selecting scalar fields with the default
 * resolver, to-one relations of served types, and lists of them (plain lists,
 * and connections with `first`/`after`: `nodes`, `edges { cursor node }`,
 * `pageInfo`, `totalCount`), with no fragments spread, no directives, and
 * variables only where those arguments take them. Anything else is `null`:
 * execution answers it.
 */

/** One selected scalar: where it goes in the response, and how its value is serialized. */
export interface LeafPlan {
  readonly kind: 'leaf';
  readonly key: string;
  readonly name: string;
  /** The schema's own scalar serializer; null for `__typename`. */
  readonly serialize: ((value: unknown) => unknown) | null;
  readonly nonNull: boolean;
}

/** A to-one relation (`Order.account`): the target's row by the key the parent holds in `by`. */
export interface RelationPlan {
  readonly kind: 'relation';
  readonly key: string;
  readonly relation: Relation;
  readonly target: EntityRoute;
  readonly nonNull: boolean;
  readonly shape: Shape;
}

/** A small bounded list served whole (`Product.categories`). */
export interface PlainListPlan {
  readonly kind: 'list';
  readonly key: string;
  readonly list: ListDefinition;
  /** Its declared maximum: the page it reads, and its bound in the cost. */
  readonly max: number;
  readonly shape: Shape;
}

export type Arg = { readonly variable: string } | { readonly literal: unknown };

/** What a connection's own selection asks for, in response order. */
export type ConnectionPart =
  | { readonly kind: 'typename'; readonly key: string }
  | { readonly kind: 'totalCount'; readonly key: string }
  | { readonly kind: 'nodes'; readonly key: string; readonly shape: Shape }
  | { readonly kind: 'edges'; readonly key: string; readonly parts: readonly EdgePart[] }
  | { readonly kind: 'pageInfo'; readonly key: string; readonly parts: readonly PageInfoPart[] };

export type EdgePart =
  | { readonly kind: 'typename'; readonly key: string }
  | { readonly kind: 'cursor'; readonly key: string }
  | { readonly kind: 'node'; readonly key: string; readonly shape: Shape };

export interface PageInfoPart {
  readonly key: string;
  readonly name: (typeof PAGE_INFO_FIELDS)[number];
}

/** A connection (`Account.orders(first:, after:)`), served as connections.ts serves it. */
export interface ConnectionPlan {
  readonly kind: 'connection';
  readonly key: string;
  readonly list: ListDefinition;
  /** Undefined where the operation does not give the argument. */
  readonly first: Arg | undefined;
  readonly after: Arg | undefined;
  /** The schema's default of `first`, which an absent argument (or unset variable) takes. */
  readonly firstDefault: unknown;
  /** Most rows a page may hold, as the cost limit counts it. */
  readonly maxPage: number;
  /** `__typename` of the connection, its edges and its page info. */
  readonly typenames: ConnectionTypenames;
  readonly parts: readonly ConnectionPart[];
}

export type FieldPlan = LeafPlan | RelationPlan | PlainListPlan | ConnectionPlan;

export interface Shape {
  readonly typename: string;
  /** In selection order: the order of the keys execution gives the response object. */
  readonly fields: readonly FieldPlan[];
  /** Only scalars, no aliases, no `__typename`, no field twice: a row with exactly these keys, in this order, is its own answer. */
  readonly plain: boolean;
  /** Some field needs a load of its own (a relation or a list). */
  readonly nested: boolean;
}

export interface RootPlan<K extends 'one' | 'many'> {
  readonly kind: K;
  readonly key: string;
  readonly route: EntityRoute;
  readonly arg: Arg;
  readonly shape: Shape;
  readonly variables: readonly VariableCheck[];
}

export interface EntitiesPlan {
  readonly kind: 'entities';
  readonly key: string;
  readonly arg: Arg;
  readonly shapes: ReadonlyMap<string, { readonly route: EntityRoute; readonly shape: Shape }>;
  readonly variables: readonly VariableCheck[];
}

/** A root list (`productCatalog`): a connection or a plain list with no owner. */
export interface RootListPlan {
  readonly kind: 'rootList';
  readonly key: string;
  readonly field: ConnectionPlan | PlainListPlan;
  readonly variables: readonly VariableCheck[];
}

export type Plan = RootPlan<'one'> | RootPlan<'many'> | EntitiesPlan | RootListPlan;

/** A declared variable whose value must coerce as its type says before anything runs (ids are checked where they are read). */
export interface VariableCheck {
  readonly name: string;
  readonly type: string;
}

const typeString = (t: TypeNode): string =>
  t.kind === Kind.NAMED_TYPE ? t.name.value : t.kind === Kind.LIST_TYPE ? `[${typeString(t.type)}]` : `${typeString(t.type)}!`;

/** What an argument is, and the declared variable types that may stand for it. */
type Use = 'id' | 'ids' | 'representations' | 'first' | 'after';
const VARIABLE_TYPES: Readonly<Record<Use, readonly string[]>> = {
  id: ['ID!'],
  ids: ['[ID!]!'],
  representations: ['[_Any!]!'],
  first: ['Int', 'Int!'],
  after: ['String', 'String!'],
};

function literalOf(value: ValueNode, use: Use): unknown {
  if (use === 'first') return value.kind === Kind.INT ? Number.parseInt(value.value, 10) : value.kind === Kind.NULL ? null : undefined;
  if (use === 'after') return value.kind === Kind.STRING ? value.value : value.kind === Kind.NULL ? null : undefined;
  if (value.kind === Kind.STRING) return value.value;
  if (value.kind === Kind.LIST) return value.values.map((v) => literalOf(v, use));
  return undefined; // anything else: leave it to execution
}

/** The operation's variables: declared with their types, and which argument each stands for. */
class Variables {
  private readonly declared = new Map<string, string>();
  private readonly used = new Map<string, Use>();
  /** False once a declaration is one the fast path does not take (a default, a directive). */
  readonly ok: boolean;

  constructor(operation: OperationDefinitionNode) {
    let ok = true;
    for (const definition of operation.variableDefinitions ?? []) {
      // No defaults: then no variable holds a value the client did not send, and no unused one can fail coercion.
      if (definition.defaultValue || definition.directives?.length) ok = false;
      this.declared.set(definition.variable.name.value, typeString(definition.type));
    }
    this.ok = ok;
  }

  /** The argument as a variable or a literal; undefined when the fast path does not take it. */
  arg(value: ValueNode, use: Use): Arg | undefined {
    if (value.kind !== Kind.VARIABLE) {
      const literal = literalOf(value, use);
      return literal === undefined && (use === 'first' || use === 'after') ? undefined : { literal };
    }
    const name = value.name.value;
    const type = this.declared.get(name);
    const seen = this.used.get(name);
    if (type === undefined || !VARIABLE_TYPES[use].includes(type) || (seen !== undefined && seen !== use)) return undefined;
    this.used.set(name, use);
    return { variable: name };
  }

  /** Every declared variable is used by an argument the plan reads: what must be checked at run time. */
  checks(): VariableCheck[] | undefined {
    if (!this.ok || this.used.size !== this.declared.size) return undefined;
    return [...this.declared].map(([name, type]) => ({ name, type }));
  }
}

/** The field's arguments by name, or undefined when one is given twice or is not among `allowed`. */
function argumentsByName(args: readonly ArgumentNode[] | undefined, allowed: readonly string[]): Map<string, ValueNode> | undefined {
  const byName = new Map<string, ValueNode>();
  for (const a of args ?? []) {
    if (!allowed.includes(a.name.value) || byName.has(a.name.value)) return undefined;
    byName.set(a.name.value, a.value);
  }
  return byName;
}

interface Planner {
  readonly servable: Servable;
  readonly variables: Variables;
}

/** A selection of a served type, or undefined when it is anything the fast path does not serve. */
function planShape(selections: readonly SelectionNode[], typename: string, planner: Planner): Shape | undefined {
  const fields = planner.servable.types.get(typename);
  if (!fields) return undefined;
  const planned: FieldPlan[] = [];
  const keys = new Map<string, string>();
  let plain = true;
  let nested = false;
  for (const s of selections) {
    if (s.kind !== Kind.FIELD || s.directives?.length) return undefined;
    const name = s.name.value;
    const key = s.alias?.value ?? name;
    const known = keys.get(key);
    if (key !== name || name === '__typename' || known !== undefined) plain = false;
    keys.set(key, name);
    const leaf = name === '__typename' ? { serialize: null, nonNull: true } : fields.leaves.get(name);
    if (leaf) {
      if (s.selectionSet || s.arguments?.length || (known !== undefined && known !== name)) return undefined;
      planned.push({ kind: 'leaf', key, name, serialize: leaf.serialize, nonNull: leaf.nonNull });
      continue;
    }
    // A composite field given twice would have its selections merged: left to execution.
    if (known !== undefined || !s.selectionSet) return undefined;
    nested = true;
    const relation = fields.relations.get(name);
    if (relation) {
      const shape = s.arguments?.length ? undefined : planShape(s.selectionSet.selections, relation.target.type, planner);
      if (!shape) return undefined;
      planned.push({ kind: 'relation', key, relation: relation.relation, target: relation.target, nonNull: relation.nonNull, shape });
      continue;
    }
    const list = fields.lists.get(name);
    const field = list && planList(list, s.arguments, s.selectionSet.selections, key, planner);
    if (!field) return undefined;
    planned.push(field);
  }
  return { typename, fields: planned, plain: plain && !nested, nested };
}

/** A list field with its arguments and selection; undefined when the fast path does not serve it. */
function planList(
  found: ListField,
  args: readonly ArgumentNode[] | undefined,
  selections: readonly SelectionNode[],
  key: string,
  planner: Planner,
): PlainListPlan | ConnectionPlan | undefined {
  const { list, typenames } = found;
  if (typenames === undefined) {
    if (args?.length || list.serve.kind !== 'list') return undefined;
    const max = planner.servable.bounds.fields.get(`${list.on}.${list.field}`);
    const shape = planShape(selections, list.member.type, planner);
    return max === list.serve.max && shape ? { kind: 'list', key, list, max, shape } : undefined;
  }
  const given = argumentsByName(args, ['first', 'after']);
  if (!given) return undefined;
  const firstValue = given.get('first');
  const afterValue = given.get('after');
  const first = firstValue && planner.variables.arg(firstValue, 'first');
  const after = afterValue && planner.variables.arg(afterValue, 'after');
  if ((firstValue && !first) || (afterValue && !after)) return undefined;
  const parts = planConnectionParts(selections, list, planner);
  if (!parts) return undefined;
  const firstDefault = found.field.args.find((a) => a.name === 'first')?.defaultValue;
  return { kind: 'connection', key, list, first, after, firstDefault, maxPage: planner.servable.bounds.maxPage, typenames, parts };
}

/** Keys once each, no arguments, no directives: the plain selections of a connection's own types. */
function plainSelections(selections: readonly SelectionNode[]): { key: string; name: string; node: SelectionNode & { kind: Kind.FIELD } }[] | undefined {
  const out: { key: string; name: string; node: SelectionNode & { kind: Kind.FIELD } }[] = [];
  const keys = new Set<string>();
  for (const s of selections) {
    if (s.kind !== Kind.FIELD || s.directives?.length || s.arguments?.length) return undefined;
    const key = s.alias?.value ?? s.name.value;
    if (keys.has(key)) return undefined;
    keys.add(key);
    out.push({ key, name: s.name.value, node: s });
  }
  return out;
}

function planConnectionParts(selections: readonly SelectionNode[], list: ListDefinition, planner: Planner): ConnectionPart[] | undefined {
  const fields = plainSelections(selections);
  if (!fields) return undefined;
  const parts: ConnectionPart[] = [];
  for (const { key, name, node } of fields) {
    const set = node.selectionSet?.selections;
    if (name === '__typename' || name === 'totalCount') {
      if (set) return undefined;
      parts.push({ kind: name === '__typename' ? 'typename' : 'totalCount', key });
    } else if (name === 'nodes') {
      const shape = set && planShape(set, list.member.type, planner);
      if (!shape) return undefined;
      parts.push({ kind: 'nodes', key, shape });
    } else if (name === 'edges') {
      const edgeFields = set && plainSelections(set);
      if (!edgeFields) return undefined;
      const edgeParts: EdgePart[] = [];
      for (const edge of edgeFields) {
        const inner = edge.node.selectionSet?.selections;
        if (edge.name === 'node') {
          const shape = inner && planShape(inner, list.member.type, planner);
          if (!shape) return undefined;
          edgeParts.push({ kind: 'node', key: edge.key, shape });
        } else if ((edge.name === 'cursor' || edge.name === '__typename') && !inner) {
          edgeParts.push({ kind: edge.name === 'cursor' ? 'cursor' : 'typename', key: edge.key });
        } else return undefined;
      }
      parts.push({ kind: 'edges', key, parts: edgeParts });
    } else if (name === 'pageInfo') {
      const infoFields = set && plainSelections(set);
      if (!infoFields) return undefined;
      const infoParts: PageInfoPart[] = [];
      for (const info of infoFields) {
        const known = PAGE_INFO_FIELDS.find((f) => f === info.name);
        if (!known || info.node.selectionSet) return undefined;
        infoParts.push({ key: info.key, name: known });
      }
      parts.push({ kind: 'pageInfo', key, parts: infoParts });
    } else return undefined;
  }
  return parts;
}

export function plan(operation: OperationDefinitionNode, servable: Servable): Plan | null {
  if (operation.operation !== 'query' || operation.directives?.length) return null;
  const [root, ...rest] = operation.selectionSet.selections;
  if (!root || rest.length > 0 || root.kind !== Kind.FIELD || root.directives?.length || !root.selectionSet) return null;
  const variables = new Variables(operation);
  const planner: Planner = { servable, variables };
  const field = root.name.value;
  const key = root.alias?.value ?? field;
  const found = planRoot(field, key, root.arguments ?? [], root.selectionSet.selections, planner);
  const checks = found && variables.checks();
  return found && checks ? ({ ...found, variables: checks } as Plan) : null;
}

type Unchecked<P> = P extends Plan ? Omit<P, 'variables'> : never;

function planRoot(
  field: string,
  key: string,
  args: readonly ArgumentNode[],
  selections: readonly SelectionNode[],
  planner: Planner,
): Unchecked<Plan> | undefined {
  const { servable, variables } = planner;
  const rootList = servable.rootLists.get(field);
  if (rootList) {
    const list = planList(rootList, args, selections, key, planner);
    return list && { kind: 'rootList', key, field: list };
  }
  const [argument, ...moreArgs] = args;
  if (!argument || moreArgs.length > 0) return undefined;
  const argName = argument.name.value;
  if (field === '_entities') {
    const arg = argName === 'representations' && argument.value.kind === Kind.VARIABLE ? variables.arg(argument.value, 'representations') : undefined;
    if (!arg) return undefined;
    const shapes = new Map<string, { route: EntityRoute; shape: Shape }>();
    for (const s of selections) {
      if (s.kind !== Kind.INLINE_FRAGMENT || s.directives?.length || !s.typeCondition) return undefined;
      const typename = s.typeCondition.name.value;
      const route = servable.routes.find((r) => r.type === typename);
      const shape = route && planShape(s.selectionSet.selections, typename, planner);
      if (!route || !shape || shapes.has(typename)) return undefined;
      shapes.set(typename, { route, shape });
    }
    return shapes.size === 0 ? undefined : { kind: 'entities', key, arg, shapes };
  }
  for (const route of servable.routes) {
    const kind = field === route.one ? 'one' : field === route.many ? 'many' : undefined;
    if (kind === undefined) continue;
    if (argName !== (kind === 'one' ? 'id' : 'ids')) return undefined;
    const arg = variables.arg(argument.value, kind === 'one' ? 'id' : 'ids');
    const shape = planShape(selections, route.type, planner);
    if (!arg || !shape) return undefined;
    return kind === 'one' ? { kind, key, route, arg, shape } : { kind, key, route, arg, shape };
  }
  return undefined;
}

/** `record[key]` if it is the record's own: a request's variables and representations are never read through a prototype. */
export const own = (record: Readonly<Record<string, unknown>> | undefined, key: string): unknown =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;

/** The value an argument is given in this request (undefined: not given, or a variable not sent). */
export const valueOf = (arg: Arg, variables: Record<string, unknown> | undefined): unknown =>
  'variable' in arg ? own(variables, arg.variable) : arg.literal;

/** The root field's list or id argument (a root list has none). */
export const argumentOf = (p: Plan, variables: Record<string, unknown> | undefined): unknown =>
  p.kind === 'rootList' ? undefined : valueOf(p.arg, variables);
