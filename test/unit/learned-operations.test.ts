import { describe, expect, it } from 'vitest';
import { LearnedOperations } from '../../src/fast-path/learned.js';
import type { Plan } from '../../src/fast-path/plan.js';

const plan = { kind: 'one', key: 'product' } as unknown as Plan;

describe('the learned-operations table', () => {
  it('keeps (operation name, text) pairs apart even when a name and a text could be glued into each other', () => {
    const table = new LearnedOperations();
    table.learn('{ b }', 'a\u0000', plan, 'first', 0);
    table.learn('\u0000{ b }', 'a', plan, 'second', 0);
    table.learn('a\u0000{ b }', undefined, plan, 'third', 0);
    expect(table.get('{ b }', 'a\u0000')?.operationName).toBe('first');
    expect(table.get('\u0000{ b }', 'a')?.operationName).toBe('second');
    expect(table.get('a\u0000{ b }', undefined)?.operationName).toBe('third');
    expect(table.get('{ b }', undefined)).toBeUndefined();
    expect(table.get('{ b }', '')).toBeUndefined();
  });

  it('stays within its byte budget, evicting the least recently used first', () => {
    const text = (i: number) => `query Q${i} { product(id: "x") { id } }`.padEnd(1000, ' ');
    const table = new LearnedOperations({ budgetBytes: 20_000 });
    for (let i = 0; i < 5; i++) table.learn(text(i), undefined, plan, `op${i}`, 0);
    expect(table.size).toBe(5);
    expect(table.get(text(0), undefined)).toBeDefined(); // 0 is now the most recently used
    for (let i = 5; i < 100; i++) {
      table.learn(text(i), undefined, plan, `op${i}`, 0);
      if (i % 3 === 0) expect(table.get(text(0), undefined)).toBeDefined();
    }
    expect(table.usedBytes).toBeLessThanOrEqual(20_000);
    expect(table.get(text(0), undefined)?.operationName).toBe('op0');
    expect(table.get(text(1), undefined)).toBeUndefined();
    expect(table.get(text(99), undefined)?.operationName).toBe('op99');
  });

  it('never learns a text longer than its limit, and raises an accepted cost but never lowers it', () => {
    const table = new LearnedOperations({ maxQueryLength: 100 });
    table.learn('x'.repeat(101), undefined, plan, undefined, 0);
    expect(table.size).toBe(0);
    table.learn('{ a }', undefined, plan, undefined, 3);
    table.learn('{ a }', undefined, plan, undefined, 10);
    table.learn('{ a }', undefined, plan, undefined, 2);
    expect(table.get('{ a }', undefined)?.acceptedCost).toBe(10);
  });
});
