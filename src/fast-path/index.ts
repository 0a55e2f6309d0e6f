import { HeaderMap, type ApolloServerPlugin, type GraphQLRequestListener, type GraphQLResponse } from '@apollo/server';
import type { OperationDefinitionNode } from 'graphql';
import type { RequestContext } from '../context.js';
import type { EntityDefinition } from '../entities/define.js';
import { LISTS } from '../entities/index.js';
import type { ListDefinition } from '../entities/lists.js';
import { LIST_BOUNDS } from '../list-bounds.js';
import { operationCost, type ListBounds } from '../plugins/cost-limit.js';
import { coercedVariables } from '../plugins/request-values.js';
import { planCost } from './cost.js';
import { FALL_THROUGH, dataOf, run } from './execute.js';
import { TRACE_HEADER, asksForTrace, skippable } from './fence.js';
import { LearnedOperations, type LearnedOptions } from './learned.js';
import { plan, type Plan } from './plan.js';
import { routesOf } from './routes.js';
import { emptyServable, servableOf, type Servable } from './servable.js';
import { shortcutFor, type ShortcutAnswer } from './shortcut.js';

/**
 * The read fast path. Most traffic is `one(id)`, `many(ids)` or a router's
 * `_entities(representations)` of a cached type, selecting scalar fields, and
 * pages of lists (`account(id) { orders(first: 10) { ... } }`). For those, its
 * plugin reads through the readers behind the request's DataLoaders (the same
 * cache and freshness rules as the resolvers, counted in the request's stats):
 * a root read of scalars straight through the reader (a list read once needs no
 * per-key promise or per-request cache), relations and lists through the
 * request's DataLoaders and the resolvers' own page reader (list-pages.ts), so
 * that each level is one round trip as in execution. It builds the response itself,
 * skipping graphql-js execution: on a warm cache that was the larger part of a
 * request's CPU time (profiled with `npm run bench`).
 *
 * The contract with the slow path: it answers only when it can produce exactly
 * the response execution would (test/graphql/fast-path.test.ts compares both,
 * byte for byte); every other shape, every invalid input and every failed load
 * falls through to execution, which then reports the error as always. Only its
 * own FALL_THROUGH signal is caught; any other exception is a bug, rethrown for
 * Apollo to log and mask.
 *
 * Once an operation has been answered here, the same request (same text, same
 * operation name) can be answered by `shortcut` next time, before Apollo's
 * pipeline starts (test/graphql/shortcut.test.ts compares the HTTP answers with
 * Apollo's). The shortcut skips every plugin hook, so it answers only behind
 * its fence (fence.ts): which requests, and with which plugins installed.
 *
 * Files: plan.ts (which operations), servable.ts (what the schema lets it
 * read), execute.ts (running a plan), cost.ts (what the cost limit prices a
 * plan at), learned.ts (the learned-operations table), shortcut.ts (answering
 * before Apollo), fence.ts (when the shortcut may answer at all), routes.ts
 * (the served types, from the entity definitions).
 */
export interface FastPath {
  readonly plugin: ApolloServerPlugin<RequestContext>;
  /** The shortcut, unfenced: only `fence` (fence.ts) may hand it requests. */
  readonly shortcut: (body: unknown) => ShortcutAnswer | undefined;
  /** Requests answered by the shortcut so far (for tests and the debug view). */
  readonly shortcutAnswers: number;
}

export interface FastPathOptions {
  readonly learned?: LearnedOptions;
  /** The lists it may serve: the very definitions the loaders key their readers by. @default LISTS */
  readonly lists?: readonly ListDefinition[];
  /** The cost limit's list bounds, which the plans' costs use. @default LIST_BOUNDS */
  readonly bounds?: ListBounds;
}

export function createFastPath(entities: readonly EntityDefinition<unknown>[], options: FastPathOptions = {}): FastPath {
  const routes = routesOf(entities);
  const lists = options.lists ?? LISTS;
  const bounds = options.bounds ?? LIST_BOUNDS;
  let servable: Servable = emptyServable(routes, bounds);
  const plans = new WeakMap<OperationDefinitionNode, Plan | null>();
  const learned = new LearnedOperations(options.learned);
  let shortcutAnswers = 0;

  // One listener for every request: nothing is allocated for requests that take the normal path.
  const listener: GraphQLRequestListener<RequestContext> = {
    async responseForOperation(requestContext): Promise<GraphQLResponse | null> {
      const { operation, request, contextValue, document, schema } = requestContext;
      if (!operation) return null;
      // A router asking for a federated trace gets one from execution.
      if (asksForTrace(request.http?.headers.get(TRACE_HEADER))) return null;
      let p = plans.get(operation);
      if (p === undefined) {
        p = plan(operation, servable);
        plans.set(operation, p);
      }
      if (p === null) return null;
      let value: unknown;
      try {
        value = await run(p, contextValue, request.variables);
      } catch (err) {
        if (err === FALL_THROUGH) return null;
        throw err;
      }
      // A persisted query's text may be absent or need its hash checked: those always go through Apollo.
      if (typeof request.query === 'string' && request.extensions?.['persistedQuery'] === undefined) {
        const cost = planCost(p, request.variables);
        const known = learned.get(request.query, request.operationName);
        // The cost limit accepted this request at its own price: learned only when the plan's price is the same.
        if (known === undefined || cost > known.acceptedCost) {
          const variables = coercedVariables(schema, operation, request);
          const accepted = variables && operationCost({ ...bounds, schema }, document, operation, variables);
          if (accepted === cost) learned.learn(request.query, request.operationName, p, operation.name?.value, cost);
        }
      }
      return { http: { status: undefined, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { data: dataOf(p.key, value) } } };
    },
  };
  const plugin: ApolloServerPlugin<RequestContext> = skippable(
    {
      async serverWillStart({ schema }) {
        servable = servableOf(schema, routes, lists, bounds);
      },
      async requestDidStart() {
        return listener;
      },
    },
    'fastPath',
  );

  return {
    plugin,
    shortcut: (body) => shortcutFor(learned, body, () => shortcutAnswers++),
    get shortcutAnswers() {
      return shortcutAnswers;
    },
  };
}

export type { ShortcutAnswer };
