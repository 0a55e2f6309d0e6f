import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { GraphQLError } from 'graphql';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * A constant-time check of a presented secret against the accepted ones.
 * Both sides are hashed first, so the comparison takes the same time whatever
 * the lengths, and every accepted secret is compared (no early exit on a match).
 * Only the digests are kept.
 */
export function secretMatcher(accepted: readonly string[]): (presented: string | undefined) => boolean {
  const digests = accepted.map(digest);
  return (presented) => {
    if (presented === undefined || presented.length === 0) return false;
    const candidate = digest(presented);
    let match = false;
    for (const expected of digests) match = timingSafeEqual(candidate, expected) || match;
    return match;
  };
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Mutations need `authorization: Bearer <token>` with one of `tokens`
 * (WRITE_TOKENS); without it the request is refused with FORBIDDEN (HTTP 403)
 * in `didResolveOperation`, after validation and before anything is executed.
 * Queries, including `_entities`, stay open to whoever passed the router check.
 */
export function writeAccessPlugin<TContext extends object>(tokens: readonly string[]): ApolloServerPlugin<TContext> {
  const matches = secretMatcher(tokens);
  const listener: GraphQLRequestListener<TContext> = {
    async didResolveOperation({ operation, request }) {
      if (operation?.operation !== 'mutation') return;
      const header = request.http?.headers.get('authorization');
      const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
      if (matches(token)) return;
      throw new GraphQLError('Mutations need a bearer token with write access (authorization: Bearer <token>)', {
        extensions: { code: 'FORBIDDEN', http: { status: 403 } },
      });
    },
  };
  return { requestDidStart: async () => listener };
}
