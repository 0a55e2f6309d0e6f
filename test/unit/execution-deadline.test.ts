import { ApolloServer } from '@apollo/server';
import { buildSchema, type GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { executionDeadline } from '../../src/plugins/execution-deadline.js';

describe('execution deadline', () => {
  it('fails the resolvers that would start past it, and only those', async () => {
    let now = 0;
    let slow = true;
    const schema = buildSchema(`
      type Item { name: String! late: String }
      type Query { items: [Item!]! plain: String }
    `);
    const items = schema.getQueryType()?.getFields()['items'];
    const late = (schema.getType('Item') as GraphQLObjectType).getFields()['late'];
    if (!items || !late) throw new Error('schema');
    // The list takes 150 "ms"; each item's `late` resolver starts after it.
    items.resolve = () => {
      if (slow) now += 150;
      return [{ name: 'a' }, { name: 'b' }];
    };
    late.resolve = () => 'in time';
    const deadline = executionDeadline<{ id: number }>(100, () => now);
    const apollo = new ApolloServer<{ id: number }>({ schema: deadline.guard(schema), plugins: [deadline.plugin] });
    await apollo.start();
    try {
      const run = async () => {
        const { body } = await apollo.executeOperation({ query: '{ items { name late } plain }' }, { contextValue: { id: 1 } });
        return body.kind === 'single' ? body.singleResult : undefined;
      };
      const result = await run();
      // `name` has the default resolver: it reads what was loaded. `plain` is a root field: guarded all the same.
      expect(result?.data).toEqual({ items: [{ name: 'a', late: null }, { name: 'b', late: null }], plain: null });
      expect(result?.errors?.map((e) => `${e.extensions?.['code']} ${e.path?.join('.')}`).sort()).toEqual([
        'EXECUTION_TIMEOUT items.0.late',
        'EXECUTION_TIMEOUT items.1.late',
        'EXECUTION_TIMEOUT plain',
      ]);
      // Each request has its own clock: one that takes no time is untouched.
      slow = false;
      const quick = await run();
      expect(quick?.errors).toBeUndefined();
      expect(quick?.data).toEqual({ items: [{ name: 'a', late: 'in time' }, { name: 'b', late: 'in time' }], plain: null });
    } finally {
      await apollo.stop();
    }
  });
});
