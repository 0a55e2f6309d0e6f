import type { ApolloServerPlugin, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import {
  Kind,
  isUnionType,
  valueFromASTUntyped,
  type FieldNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { badInput } from '../errors.js';

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
          if (representations.length === 0) return;
          if (representations.length > max) {
            requestContext.response.http.status = 200;
            throw badInput(
              `_entities was given ${representations.length} representations; at most ${max} are allowed in one request`,
              'representations',
            );
          }
          const entityTypes = entityTypeNames(requestContext);
          const bad = representations.findIndex(
            (r) => typeof r !== 'object' || r === null || !entityTypes.has((r as { __typename?: unknown }).__typename as string),
          );
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

/** Every representation named by any `_entities` field of the operation (aliases and fragments included). */
function entityRepresentations<T extends object>(ctx: GraphQLRequestContextDidResolveOperation<T>): unknown[] {
  const { operation, document, request } = ctx;
  if (operation?.operation !== 'query') return [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  const fields: FieldNode[] = [];
  const seen = new Set<string>();
  const collect = (selectionSet: SelectionSetNode): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === '_entities') fields.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);

  const variables: Record<string, unknown> = { ...request.variables };
  for (const def of operation.variableDefinitions ?? []) {
    const name = def.variable.name.value;
    if (variables[name] === undefined && def.defaultValue) variables[name] = valueFromASTUntyped(def.defaultValue);
  }
  return fields.flatMap((field) => {
    const arg = field.arguments?.find((a) => a.name.value === 'representations');
    if (!arg) return [];
    const value: unknown = valueFromASTUntyped(arg.value, variables);
    // GraphQL coerces a single value given for a list argument into a list of one.
    return Array.isArray(value) ? value : value === undefined ? [] : [value];
  });
}

function entityTypeNames<T extends object>(ctx: GraphQLRequestContextDidResolveOperation<T>): Set<string> {
  const union = ctx.schema.getType('_Entity');
  return new Set(isUnionType(union) ? union.getTypes().map((t) => t.name) : []);
}
