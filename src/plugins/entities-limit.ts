import type { ApolloServerPlugin, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import { isUnionType, type FieldNode } from 'graphql';
import { badInput } from '../errors.js';
import { argumentsOf, coercedVariables } from './request-values.js';
import { fragmentsOf, selectionWalker, type SelectionWalk } from './selection-walk.js';

export interface EntitiesLimitOptions {
  /** Most entity representations one request may name, over all its `_entities` fields. @default 500 */
  readonly maxRepresentations?: number;
}

/**
 * Bounds the router's `_entities` fetches before anything is loaded: more than
 * `maxRepresentations` representations in one request, or a representation
 * that is not `{ __typename: <an entity type>, ... }`, is BAD_USER_INPUT.
 *
 * Answered with HTTP 200 like every other field-level BAD_USER_INPUT: routers
 * and gateways replace the errors of a non-2xx subgraph response with a generic
 * message, and the router's user should see this one.
 */
export function entitiesLimitPlugin<TContext extends object>(options: EntitiesLimitOptions = {}): ApolloServerPlugin<TContext> {
  const max = options.maxRepresentations ?? 500;
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(requestContext) {
          const representations = entityRepresentations(requestContext);
          if (representations === null || representations.count === 0) return;
          if (representations.count > max) {
            requestContext.response.http.status = 200;
            throw badInput(
              `_entities was given ${representations.count} representations; at most ${max} are allowed in one request`,
              'representations',
            );
          }
          const entityTypes = entityTypeNames(requestContext);
          const bad = representations.all.findIndex((r) => {
            const typename = typenameOf(r);
            return typeof typename !== 'string' || !entityTypes.has(typename);
          });
          if (bad !== -1) {
            requestContext.response.http.status = 200;
            throw badInput(
              `representations[${bad}] must be an object whose __typename is one of ${[...entityTypes].join(', ')}`,
              'representations',
            );
          }
        },
      };
    },
  };
}

type Reached = ReadonlyMap<FieldNode, number>;
const NONE: Reached = new Map();

/** The root `_entities` fields, each with how many times the operation reaches it (fragments count per spread). */
const ENTITIES_WALK: SelectionWalk<Reached, undefined> = {
  empty: NONE,
  add(a, b) {
    if (a.size === 0) return b;
    if (b.size === 0) return a;
    const sum = new Map(a);
    for (const [node, times] of b) sum.set(node, (sum.get(node) ?? 0) + times);
    return sum;
  },
  field: (node) => (node.name.value === '_entities' ? new Map([[node, 1]]) : NONE),
};

/**
 * Every representation named by any `_entities` field of the operation (aliases
 * and fragments included), with the values execution would give them: variables
 * coerced by graphql-js (defaults included), read as own properties only. Null
 * when the variables do not coerce: execution reports that.
 */
function entityRepresentations<T extends object>(ctx: GraphQLRequestContextDidResolveOperation<T>): { count: number; all: unknown[] } | null {
  const none = { count: 0, all: [] };
  const { operation, document, request, schema } = ctx;
  const field = schema.getQueryType()?.getFields()['_entities'];
  if (operation?.operation !== 'query' || field === undefined) return none;
  const reached = selectionWalker(fragmentsOf(document), ENTITIES_WALK)(operation.selectionSet, undefined);
  if (reached.size === 0) return none;
  const variables = coercedVariables(schema, operation, request);
  if (variables === undefined) return null;
  let count = 0;
  const lists: unknown[][] = [];
  for (const [node, times] of reached) {
    const args = argumentsOf(field, node, variables);
    const value = args !== undefined && Object.hasOwn(args, 'representations') ? args['representations'] : undefined;
    if (!Array.isArray(value)) continue;
    count += times * value.length;
    lists.push(value);
  }
  return { count, all: lists.flat() };
}

function entityTypeNames<T extends object>(ctx: GraphQLRequestContextDidResolveOperation<T>): Set<string> {
  const union = ctx.schema.getType('_Entity');
  return new Set(isUnionType(union) ? union.getTypes().map((t) => t.name) : []);
}

/** The representation's own `__typename`, when it is an object that has one. */
function typenameOf(representation: unknown): unknown {
  if (typeof representation !== 'object' || representation === null || Array.isArray(representation)) return undefined;
  return Object.hasOwn(representation, '__typename') ? (representation as { __typename: unknown }).__typename : undefined;
}
