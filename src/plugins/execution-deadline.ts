import { performance } from 'node:perf_hooks';
import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { defaultFieldResolver, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { executionTimeout } from '../errors.js';

export interface ExecutionDeadline<TContext extends object> {
  /** Starts each request's clock when its execution starts. */
  readonly plugin: ApolloServerPlugin<TContext>;
  /** Makes every resolver of `schema` (in place) fail fast once its request is past the deadline. */
  guard(schema: GraphQLSchema): GraphQLSchema;
}

/**
 * A deadline per request: a resolver that would start more than `timeoutMs`
 * after its request's execution started throws EXECUTION_TIMEOUT instead, so
 * nothing below it runs, and the response (with that error where the field
 * would be) is sent as soon as the loads already under way return.
 *
 * The cost limit bounds how many rows a request may touch; this bounds how long
 * it may keep starting new work, which matters when each round trip is slow
 * (a struggling database makes every level of a nested query wait in turn).
 * Guarded: every root field, and every field with a resolver of its own; a default
 * resolver below the root only reads a property of an object already loaded.
 * Checked when a resolver starts, not by a timer, so a request on time pays one
 * clock read per guarded resolver and nothing else.
 */
export function executionDeadline<TContext extends object>(
  timeoutMs: number,
  now: () => number = () => performance.now(),
): ExecutionDeadline<TContext> {
  const deadlines = new WeakMap<object, number>();
  const listener: GraphQLRequestListener<TContext> = {
    async executionDidStart({ contextValue }) {
      deadlines.set(contextValue, now() + timeoutMs);
    },
  };
  return {
    plugin: { requestDidStart: async () => listener },
    guard(schema) {
      const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]);
      for (const type of Object.values(schema.getTypeMap())) {
        if (!isObjectType(type) || type.name.startsWith('__')) continue;
        for (const field of Object.values(type.getFields())) {
          const resolve: GraphQLFieldResolver<unknown, unknown> | undefined = field.resolve ?? (roots.has(type) ? defaultFieldResolver : undefined);
          if (resolve === undefined) continue;
          field.resolve = (source, args, context, info) => {
            const deadline = typeof context === 'object' && context !== null ? deadlines.get(context) : undefined;
            if (deadline !== undefined && now() >= deadline) throw executionTimeout(timeoutMs);
            return resolve(source, args, context, info);
          };
        }
      }
      return schema;
    },
  };
}
