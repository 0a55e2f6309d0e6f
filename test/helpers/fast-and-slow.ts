import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../src/context.js';

/** What the fast-path tests need of a server (src/server.ts's, or a project copy's). */
interface Startable {
  readonly apollo: { addPlugin(plugin: ApolloServerPlugin<RequestContext>): void };
  start(): Promise<void>;
}

/**
 * Two servers over the same loaders and cache, one with the read fast path and
 * one without, started; `executions()` counts graphql-js executions of the fast
 * one (an executionDidStart hook), so a test can tell which path answered.
 */
export async function startFastAndSlow<S extends Startable>(make: (fastPath: boolean) => S): Promise<{ fast: S; slow: S; executions: () => number }> {
  let executions = 0;
  const fast = make(true);
  fast.apollo.addPlugin({
    async requestDidStart() {
      return {
        async executionDidStart() {
          executions++;
        },
      };
    },
  });
  const slow = make(false);
  await Promise.all([fast.start(), slow.start()]);
  return { fast, slow, executions: () => executions };
}
