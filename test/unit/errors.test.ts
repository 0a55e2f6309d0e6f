import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { maskError, serviceUnavailable, notFound } from '../../src/errors.js';

const formatted = (error: GraphQLError) => error.toJSON();

describe('error masking', () => {
  it('passes a coded error through, even one that carries its cause', () => {
    const logged: unknown[] = [];
    const err = serviceUnavailable('db gone', new Error('COMMIT; - Client has encountered a connection error'));
    const wrapped = new GraphQLError(err.message, { originalError: err, path: ['adjustStock'] });
    const out = maskError(formatted(wrapped), wrapped, (e) => logged.push(e));
    expect(out.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE' });
    expect(out.message).toBe('db gone');
    expect(logged).toEqual([]);
  });

  it('keeps the details of a coded error', () => {
    const err = notFound('Product', 'x');
    const out = maskError(formatted(err), err, () => {});
    expect(out.extensions).toEqual({ code: 'NOT_FOUND', type: 'Product', id: 'x' });
  });

  it('masks an unexpected failure and logs it, without its message, stack or SQL', () => {
    const logged: unknown[] = [];
    const cause = new Error('select * from products where id = $1 - relation does not exist');
    const wrapped = new GraphQLError(cause.message, { originalError: cause, path: ['product'] });
    const out = maskError(formatted(wrapped), wrapped, (e) => logged.push(e));
    expect(out).toEqual({ message: 'Internal server error', path: ['product'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(logged).toEqual([cause]);
  });

  it("passes GraphQL's own request errors, minus any stack trace", () => {
    const err = new GraphQLError('Cannot query field "nope"', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', stacktrace: ['at x'] } });
    const out = maskError(formatted(err), err, () => {});
    expect(out.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
  });
});
