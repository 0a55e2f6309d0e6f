import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { RequestContext } from '../context.js';

/** The request header that asks for the debug view, with the value `1`. */
export const DEBUG_HEADER = 'x-freshgraph-debug';

/**
 * The debug view: for a request that carries `x-freshgraph-debug: 1` (and only
 * when DEBUG_EXTENSIONS allows it; never in production), `extensions.cache`
 * shows what serving it cost, so a user in Apollo Sandbox can see the cache work:
 *
 * - `hits`, `misses`: entity reads answered by the cache, or not;
 * - `redisRoundTrips`: cache calls made to read for this request: one per batch
 *   (an MGET), plus one per batch with misses, which takes their fill leases
 *   (the fills that follow are not counted);
 * - `sqlStatements`: read-path loads from Postgres (one SELECT each). Background
 *   fills and a mutation's own statements (transaction, write-through) are not
 *   included: counting those per request would need AsyncLocalStorage on every
 *   request, which this view is not worth.
 */
export function debugExtensionsPlugin(): ApolloServerPlugin<RequestContext> {
  const listener: GraphQLRequestListener<RequestContext> = {
    async willSendResponse({ contextValue, response }) {
      if (!contextValue.meta.debug || response.body.kind !== 'single') return;
      const stats = contextValue.loaders.stats;
      const result = response.body.singleResult;
      result.extensions = {
        ...result.extensions,
        cache: {
          hits: stats.hits,
          misses: stats.misses,
          redisRoundTrips: stats.redisRoundTrips,
          sqlStatements: stats.sourceLoads,
        },
      };
    },
  };
  return { requestDidStart: async () => listener };
}
