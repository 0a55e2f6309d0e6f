import type { GraphQLRequest } from '@apollo/server';
import {
  getArgumentValues,
  getVariableValues,
  type FieldNode,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

export type Values = Readonly<Record<string, unknown>>;

const coercions = new WeakMap<GraphQLRequest, Values | null>();

/**
 * The request's variables as execution will see them: coerced by graphql-js,
 * defaults included, only the operation's own variables, each read as an own
 * property of what the client sent. Undefined when they do not coerce: Apollo's
 * execution then reports that, as it always does. Coerced once per request for
 * every plugin that asks (the request object is the same through all hooks).
 */
export function coercedVariables(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  request: GraphQLRequest,
): Values | undefined {
  let known = coercions.get(request);
  if (known === undefined) {
    const inputs = request.variables ?? {};
    const result = getVariableValues(schema, operation.variableDefinitions ?? [], inputs, { maxErrors: 1 });
    known = result.coerced ?? null;
    coercions.set(request, known);
  }
  return known ?? undefined;
}

/**
 * A field's arguments as its resolver would get them (literals, coerced
 * variables, argument defaults), or undefined where execution would fail the
 * field instead (a non-null argument given a null variable), running nothing below it.
 */
export function argumentsOf(field: GraphQLField<unknown, unknown>, node: FieldNode, variables: Values): Values | undefined {
  try {
    return getArgumentValues(field, node, variables as Record<string, unknown>);
  } catch {
    return undefined;
  }
}
