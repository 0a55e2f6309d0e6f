import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type DocumentNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { FormattedErrorLike } from '../errors.js';
import { fragmentsOf, selectionWalker, type SelectionWalk } from './selection-walk.js';

/** The shape limits, checked by a validation rule, so before any resolver runs. */
export interface ShapeLimits {
  /** @default 8 */
  readonly maxDepth: number;
  /** @default 15 */
  readonly maxAliases: number;
  /** @default 50 */
  readonly maxDirectives: number;
}

export const DEFAULT_SHAPE_LIMITS: ShapeLimits = { maxDepth: 8, maxAliases: 15, maxDirectives: 50 };

/** Every limit on an operation; see docs/security.md. */
export interface QueryLimits extends ShapeLimits {
  /** The parser stops past this many tokens. @default 1000 */
  readonly maxTokens: number;
  /** See plugins/cost-limit.ts. @default 1000 */
  readonly maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { ...DEFAULT_SHAPE_LIMITS, maxTokens: 1000, maxCost: 1000 };

/** What one selection set amounts to once its fragments are expanded. */
interface Shape {
  readonly depth: number;
  readonly aliases: number;
  readonly directives: number;
}

const EMPTY: Shape = { depth: 0, aliases: 0, directives: 0 };

const SHAPE_WALK: SelectionWalk<Shape, undefined> = {
  empty: EMPTY,
  add: (a, b) => ({ depth: Math.max(a.depth, b.depth), aliases: a.aliases + b.aliases, directives: a.directives + b.directives }),
  field(node, _, inner) {
    const child = node.selectionSet ? inner(node.selectionSet, undefined) : EMPTY;
    return {
      depth: node.name.value.startsWith('__') ? 0 : 1 + child.depth,
      aliases: child.aliases + (node.alias ? 1 : 0),
      directives: child.directives + (node.directives?.length ?? 0),
    };
  },
  fragment: (value, node, definition) => ({
    ...value,
    directives: value.directives + (node.directives?.length ?? 0) + (definition?.directives?.length ?? 0),
  }),
};

/**
 * Measures every operation of the document with its fragments expanded: depth
 * of field nesting, aliased fields, directive uses. Fragments count once per
 * spread (see selection-walk.ts: spreads of spreads cannot make the walk
 * exponential, their counts grow instead, and are refused). Fields named `__*`
 * (introspection) do not count towards depth: the introspection query every
 * tool sends is deeper than any real operation here, and it touches neither
 * Postgres nor Redis.
 */
export function measureOperations(document: DocumentNode): { name: string | undefined; shape: Shape }[] {
  const walk = selectionWalker(fragmentsOf(document), SHAPE_WALK);
  const operations: { name: string | undefined; shape: Shape }[] = [];
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    const inner = walk(def.selectionSet, undefined);
    let directives = inner.directives + (def.directives?.length ?? 0);
    for (const variable of def.variableDefinitions ?? []) directives += variable.directives?.length ?? 0;
    operations.push({ name: def.name?.value, shape: { ...inner, directives } });
  }
  return operations;
}

/**
 * One validation rule for depth, aliases and directives. Apollo caches
 * validated documents, so a query the server has seen is not measured again.
 * Each refusal names the limit in `extensions.limit` (and Apollo adds
 * `code: GRAPHQL_VALIDATION_FAILED`, HTTP 400).
 */
export function shapeLimitsRule(limits: ShapeLimits = DEFAULT_SHAPE_LIMITS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    Document(node) {
      for (const { name, shape } of measureOperations(node)) {
        const what = name === undefined ? 'The operation' : `Operation "${name}"`;
        if (shape.depth > limits.maxDepth) {
          context.reportError(
            limitError(`${what} nests fields ${shape.depth} deep; at most ${limits.maxDepth} levels are allowed`, 'MAX_DEPTH', limits.maxDepth),
          );
        }
        if (shape.aliases > limits.maxAliases) {
          context.reportError(
            limitError(`${what} uses ${shape.aliases} aliases; at most ${limits.maxAliases} are allowed`, 'MAX_ALIASES', limits.maxAliases),
          );
        }
        if (shape.directives > limits.maxDirectives) {
          context.reportError(
            limitError(
              `${what} uses ${shape.directives} directives; at most ${limits.maxDirectives} are allowed`,
              'MAX_DIRECTIVES',
              limits.maxDirectives,
            ),
          );
        }
      }
      // Everything was measured from the document node; the rule need not visit further.
      return false;
    },
  });
}

function limitError(message: string, limit: string, max: number): GraphQLError {
  return new GraphQLError(message, { extensions: { limit, max } });
}

// graphql 16 words it "more that"; accept the corrected spelling too.
const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] (\d+) tokens\. Parsing aborted\.$/;

/**
 * The token limit is the parser's own `maxTokens` (the only way to stop reading
 * a huge document early), which Apollo reports as a parse failure. A client
 * should see it like every other limit: GRAPHQL_VALIDATION_FAILED, naming it.
 * Used from `formatError`; every other error passes through unchanged.
 */
export function recodeTokenLimit(formatted: FormattedErrorLike): FormattedErrorLike {
  if (formatted.extensions?.['code'] !== 'GRAPHQL_PARSE_FAILED') return formatted;
  const match = TOKEN_LIMIT.exec(formatted.message);
  if (match === null) return formatted;
  const max = Number(match[1]);
  return {
    message: `The document has more than ${max} tokens; parsing stopped there`,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'MAX_TOKENS', max },
  };
}
