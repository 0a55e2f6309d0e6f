import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { getNamedType, getVariableValues, isObjectType, type GraphQLNamedType, type GraphQLSchema } from 'graphql';
import { getArgumentValues } from 'graphql/execution/values.js';
import type { ListDefinition } from '../entities/lists.js';
import { firstOf } from '../resolvers/connections.js';
import { parseCursor } from '../resolvers/cursors.js';
import { fragmentsOf, selectionWalker } from './selection-walk.js';

/**
 * Checks the `first` and `after` of every connection an operation selects,
 * with its variables as graphql-js coerces them, before any resolver runs. A
 * mutation's selection is checked too: a bad `first` in what a mutation returns
 * would otherwise fail only after the mutation committed, and answer an error
 * for a change that was made. (A cursor made for another owner of the same list
 * can only be told at run time; the resolver refuses it.)
 */
export function connectionArgsPlugin<TContext extends object>(lists: readonly ListDefinition[]): ApolloServerPlugin<TContext> {
  const connections = new Map(lists.filter((l) => l.serve.kind === 'connection').map((l) => [`${l.on}.${l.field}`, l]));
  const listener: GraphQLRequestListener<TContext> = {
    async didResolveOperation({ operation, document, request, schema, response }) {
      if (operation === undefined || connections.size === 0) return;
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], request.variables ?? {});
      // Coercion errors are Apollo's to report, as for any operation.
      if (coerced.errors !== undefined) return;
      const root = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
      if (root === null || root === undefined) return;
      const check = checker(schema, connections, coerced.coerced, fragmentsOf(document));
      try {
        check(operation.selectionSet, root);
      } catch (err) {
        // A field argument the client got wrong, as BAD_USER_INPUT from a resolver would be: HTTP 200.
        response.http.status = 200;
        throw err;
      }
    },
  };
  return { requestDidStart: async () => listener };
}

/** Walks selection sets in their parent type, throwing BAD_USER_INPUT for the first bad connection argument. */
function checker(schema: GraphQLSchema, connections: ReadonlyMap<string, ListDefinition>, variables: Record<string, unknown>, fragments: ReturnType<typeof fragmentsOf>) {
  // The value is a constant but not undefined: the walker memoizes a fragment by it, once per type.
  return selectionWalker<0, GraphQLNamedType>(fragments, {
    empty: 0,
    add: () => 0,
    key: (type) => type.name,
    enter: (condition, type) => (condition === undefined ? type : (schema.getType(condition) ?? type)),
    field(node, parent, inner) {
      // Unions and interfaces are entered through their fragments' type conditions.
      if (!isObjectType(parent)) {
        if (node.selectionSet) inner(node.selectionSet, parent);
        return 0;
      }
      const field = parent.getFields()[node.name.value];
      if (field === undefined) return 0;
      const list = connections.get(`${parent.name}.${field.name}`);
      if (list !== undefined) {
        const args = getArgumentValues(field, node, variables);
        firstOf(args['first']);
        if (typeof args['after'] === 'string') parseCursor(args['after'], list);
      }
      if (node.selectionSet) inner(node.selectionSet, getNamedType(field.type));
      return 0;
    },
  });
}
