import { GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';

/**
 * Refuses an operation whose type the schema has no root for (a `subscription`
 * here). graphql-js 16 has no such validation rule (17 adds one) and fails in
 * execution instead, which Apollo reports as INTERNAL_SERVER_ERROR; as a
 * validation error it is GRAPHQL_VALIDATION_FAILED with HTTP 400, before any work.
 */
export function knownOperationTypesRule(context: ValidationContext): ASTVisitor {
  const schema = context.getSchema();
  return {
    OperationDefinition(node) {
      if (schema.getRootType(node.operation)) return false;
      context.reportError(
        new GraphQLError(`This schema has no ${node.operation} operations: it defines no ${node.operation} root type`, { nodes: node }),
      );
      return false;
    },
  };
}
