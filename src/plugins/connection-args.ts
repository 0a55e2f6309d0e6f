import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import {
  getNamedType,
  getVariableValues,
  isObjectType,
  Kind,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { getArgumentValues } from 'graphql/execution/values.js';
import type { ListDefinition } from '../entities/lists.js';
import { firstOf } from '../resolvers/connections.js';
import { parseCursor } from '../resolvers/cursors.js';

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
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
      try {
        check(schema, root, operation.selectionSet, fragments, coerced.coerced, connections, new Set());
      } catch (err) {
        // A field argument the client got wrong, as BAD_USER_INPUT from a resolver would be: HTTP 200.
        response.http.status = 200;
        throw err;
      }
    },
  };
  return { requestDidStart: async () => listener };
}

function check(
  schema: GraphQLSchema,
  parent: GraphQLObjectType,
  set: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  connections: ReadonlyMap<string, ListDefinition>,
  spreading: ReadonlySet<string>,
): void {
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      const field = parent.getFields()[selection.name.value];
      if (field === undefined) continue;
      const list = connections.get(`${parent.name}.${field.name}`);
      if (list !== undefined) {
        const args = getArgumentValues(field, selection, variables);
        firstOf(args['first']);
        if (typeof args['after'] === 'string') parseCursor(args['after'], list);
      }
      const named = getNamedType(field.type);
      if (selection.selectionSet) {
        // Unions and interfaces are entered through their fragments' type conditions.
        if (isObjectType(named)) check(schema, named, selection.selectionSet, fragments, variables, connections, spreading);
        else checkFragments(schema, selection.selectionSet, fragments, variables, connections, spreading);
      }
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
      if (isObjectType(type)) check(schema, type, selection.selectionSet, fragments, variables, connections, spreading);
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      // Cycles are refused by validation before this runs; the set only keeps a bad document finite.
      if (fragment === undefined || spreading.has(name)) continue;
      const type = schema.getType(fragment.typeCondition.name.value);
      if (isObjectType(type)) check(schema, type, fragment.selectionSet, fragments, variables, connections, new Set([...spreading, name]));
    }
  }
}

function checkFragments(
  schema: GraphQLSchema,
  set: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  connections: ReadonlyMap<string, ListDefinition>,
  spreading: ReadonlySet<string>,
): void {
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) continue;
    const condition = selection.kind === Kind.INLINE_FRAGMENT ? selection.typeCondition?.name.value : fragments.get(selection.name.value)?.typeCondition.name.value;
    const type = condition === undefined ? undefined : schema.getType(condition);
    if (isObjectType(type)) check(schema, type, { kind: Kind.SELECTION_SET, selections: [selection] }, fragments, variables, connections, spreading);
  }
}
