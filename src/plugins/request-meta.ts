import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { RequestContext } from '../context.js';

// Operation names come from the client's document; a log line needs no more than this.
export const MAX_OPERATION_NAME_LENGTH = 128;

/**
 * Records, on the context's `meta`, what the request log and the metrics need
 * from GraphQL: the operation's name and type, and the codes of the errors sent.
 */
export function requestMetaPlugin(): ApolloServerPlugin<RequestContext> {
  const listener: GraphQLRequestListener<RequestContext> = {
    async didResolveOperation({ contextValue, operation, operationName }) {
      const { meta } = contextValue;
      meta.operationType = operation?.operation;
      meta.operationName = operationName === null ? undefined : operationName.slice(0, MAX_OPERATION_NAME_LENGTH);
    },
    async willSendResponse({ contextValue, response }) {
      if (response.body.kind !== 'single') return;
      const errors = response.body.singleResult.errors;
      if (errors === undefined || errors.length === 0) return;
      contextValue.meta.errorCodes = errors.map((error) => String(error.extensions?.['code'] ?? 'INTERNAL_SERVER_ERROR'));
    },
  };
  return { requestDidStart: async () => listener };
}
