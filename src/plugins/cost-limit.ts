import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * The cost of an operation, in rows it may ask for: every field costs 1, except
 * a field with list arguments, which costs the total length of those lists (at
 * least 1). `products(ids: [500 ids])` costs 500, `_entities` with N
 * representations costs N, `adjustStocks` with N changes costs N. Fragments
 * count once per spread; `@skip`/`@include` are ignored (the cost is an upper bound).
 *
 * Lists usually arrive as variables, which validation never sees, so the cost
 * is settled per request in `didResolveOperation`: after validation, before
 * execution. The part that does not depend on variables is computed once per
 * parsed operation (Apollo caches parsed documents) and kept in a WeakMap.
 */
export interface OperationCost {
  /** The cost that does not depend on variables. */
  readonly fixed: number;
  /** Fields whose list arguments are variables, with how many times each field is reached. */
  readonly dynamic: ReadonlyMap<FieldNode, DynamicField>;
}

export interface DynamicField {
  /** Spreads multiply this: a fragment reached k times counts its fields k times. */
  readonly times: number;
  /** Total length of the literal lists among the field's arguments. */
  readonly literal: number;
  /** Names of the variables given directly as arguments. */
  readonly variables: readonly string[];
}

/** The cost of `operation` (in `document`) with `variables`. */
export function operationCost(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | undefined,
): number {
  const analysis = analyse(document, operation);
  let cost = analysis.fixed;
  for (const field of analysis.dynamic.values()) {
    let lists = field.literal;
    for (const name of field.variables) {
      const value = variables?.[name];
      if (Array.isArray(value)) lists += value.length;
    }
    cost += field.times * Math.max(1, lists);
  }
  return cost;
}

const analyses = new WeakMap<OperationDefinitionNode, OperationCost>();

function analyse(document: DocumentNode, operation: OperationDefinitionNode): OperationCost {
  const known = analyses.get(operation);
  if (known) return known;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const memo = new Map<string, OperationCost>();

  const setCost = (set: SelectionSetNode, visiting: ReadonlySet<string>): OperationCost => {
    let fixed = 0;
    const dynamic = new Map<FieldNode, DynamicField>();
    const add = (inner: OperationCost) => {
      fixed += inner.fixed;
      for (const [node, field] of inner.dynamic) {
        const seen = dynamic.get(node);
        dynamic.set(node, seen ? { ...seen, times: seen.times + field.times } : field);
      }
    };
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        let literal = 0;
        const variables: string[] = [];
        for (const arg of selection.arguments ?? []) {
          if (arg.value.kind === Kind.LIST) literal += arg.value.values.length;
          else if (arg.value.kind === Kind.VARIABLE) variables.push(arg.value.name.value);
        }
        if (variables.length === 0) fixed += Math.max(1, literal);
        else dynamic.set(selection, { times: 1, literal, variables });
        if (selection.selectionSet) add(setCost(selection.selectionSet, visiting));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        add(setCost(selection.selectionSet, visiting));
      } else {
        const name = selection.name.value;
        const def = fragments.get(name);
        // Cycles and unknown fragments never get here: validation refuses them first.
        if (def === undefined || visiting.has(name)) continue;
        let inner = memo.get(name);
        if (inner === undefined) {
          inner = setCost(def.selectionSet, new Set([...visiting, name]));
          memo.set(name, inner);
        }
        add(inner);
      }
    }
    return { fixed, dynamic };
  };

  const result = setCost(operation.selectionSet, new Set());
  analyses.set(operation, result);
  return result;
}

export interface CostLimitOptions {
  /** @default 1000 */
  readonly maxCost?: number;
}

/**
 * Refuses an operation whose cost (see `operationCost`) is above `maxCost`,
 * with GRAPHQL_VALIDATION_FAILED and HTTP 400, before anything is executed.
 */
export function costLimitPlugin<TContext extends object>(options: CostLimitOptions = {}): ApolloServerPlugin<TContext> {
  const maxCost = options.maxCost ?? 1000;
  // One listener for every request: the hook gets everything it needs as its argument.
  const listener: GraphQLRequestListener<TContext> = {
    async didResolveOperation({ document, operation, request }) {
      if (operation === undefined) return;
      const cost = operationCost(document, operation, request.variables);
      if (cost <= maxCost) return;
      throw new GraphQLError(
        `The operation costs ${cost}; at most ${maxCost} is allowed (every field costs 1, a list argument costs its length)`,
        { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'MAX_COST', max: maxCost, cost, http: { status: 400 } } },
      );
    },
  };
  return { requestDidStart: async () => listener };
}
