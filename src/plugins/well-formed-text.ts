import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { badInput, type FormattedErrorLike } from '../errors.js';

/** Matches a lone surrogate: with the `u` flag a well-formed pair is one code point and does not match. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Where in `value` the first text that is not well-formed UTF-16 is (`$input.name`, `$ids[3]`), or undefined. */
export function illFormedTextPath(value: unknown, path: string): string | undefined {
  // An explicit stack, not recursion: variables may nest as deep as JSON.parse allows.
  const stack: [unknown, string][] = [[value, path]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [current, at] = next;
    if (typeof current === 'string') {
      if (LONE_SURROGATE.test(current)) return at;
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push([current[i], `${at}[${i}]`]);
    } else if (typeof current === 'object' && current !== null) {
      for (const key of Object.keys(current)) {
        if (LONE_SURROGATE.test(key)) return at;
        stack.push([(current as Record<string, unknown>)[key], `${at}.${key}`]);
      }
    }
  }
  return undefined;
}

/**
 * Text that is not well-formed UTF-16 (a lone surrogate such as "\ud800") has no
 * UTF-8 form: Postgres would store U+FFFD in its place, so two different values
 * would become one, and it cannot be part of a cache key faithfully. Variables
 * that hold any are refused with BAD_USER_INPUT (HTTP 400) in
 * `didResolveOperation`, before cost, access or anything else is looked at.
 * Literals never get this far: graphql-js' parser refuses them, and
 * `recodeIllFormedLiteral` gives that refusal the same code.
 */
export function wellFormedTextPlugin<TContext extends object>(): ApolloServerPlugin<TContext> {
  const listener: GraphQLRequestListener<TContext> = {
    async didResolveOperation({ request, response }) {
      const variables = request.variables;
      if (variables === undefined || variables === null) return;
      for (const name of Object.keys(variables)) {
        const at = illFormedTextPath(variables[name], `$${name}`);
        if (at === undefined && !LONE_SURROGATE.test(name)) continue;
        response.http.status = 400;
        throw badInput(`${at ?? `$${name}`} holds text that is not well-formed UTF-16 (a lone surrogate); send valid Unicode text`, at ?? `$${name}`);
      }
    },
  };
  return { requestDidStart: async () => listener };
}

// graphql-js' lexer messages for a lone surrogate inside a string literal, raw or as an escape.
const ILL_FORMED_LITERAL =
  /^Syntax Error: Invalid (character within String: U\+D[89A-F][0-9A-F]{2}\.|Unicode escape sequence: "\\u(D[89A-F][0-9A-F]{2}|\{0*D[89A-F][0-9A-F]{2}\}))/i;

/**
 * A string literal with a lone surrogate is a parse failure to graphql-js; to
 * a client it is the same mistake as such a variable, so it gets the same code.
 * Used from `formatError`; every other error passes through unchanged.
 */
export function recodeIllFormedLiteral(formatted: FormattedErrorLike): FormattedErrorLike {
  if (formatted.extensions?.['code'] !== 'GRAPHQL_PARSE_FAILED' || !ILL_FORMED_LITERAL.test(formatted.message)) return formatted;
  return {
    ...formatted,
    message: `${formatted.message.replace(/^Syntax Error: /, '')} Arguments must be well-formed UTF-16 text (no lone surrogates).`,
    extensions: { code: 'BAD_USER_INPUT' },
  };
}
