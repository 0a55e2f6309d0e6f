import type { RequestContext } from '../context.js';
import { MAX_OPERATION_NAME_LENGTH } from '../plugins/request-meta.js';
import { FALL_THROUGH, dataOf, isRecord, run } from './execute.js';
import type { LearnedOperations } from './learned.js';
import { planCost } from './cost.js';
import { own } from './plan.js';

/** A learned operation, ready to answer. */
export interface ShortcutAnswer {
  /** What the cost limit prices it at (cost.ts), for the admission. */
  readonly cost: number;
  /** The complete response body, or undefined to leave the request to Apollo. */
  readonly answer: (context: RequestContext) => Promise<string | undefined>;
}

/**
 * The answer to a POST body that names a learned operation in a form Apollo
 * would accept (what Apollo's runHttpQuery accepts, narrowed to the plain case),
 * or undefined. Learned only from requests that Apollo's pipeline accepted and
 * the fast path then answered, so every check that depends on the text alone
 * (parse, validation, the shape limits) has passed for that text; the cost,
 * which depends on the variables (list lengths, `first`), is priced by the cost
 * limit's own rules (cost.ts), and one no higher than a cost already accepted
 * passes that limit too; `first`, `after` and the representations are checked
 * where they are read, and anything the plugins would refuse falls through. Which requests
 * get this far at all (no trace, no debug view, ...) is fence.ts's to decide.
 */
export function shortcutFor(learned: LearnedOperations, body: unknown, onAnswer: () => void): ShortcutAnswer | undefined {
  if (!isRecord(body)) return undefined;
  const query = own(body, 'query');
  const operationName = own(body, 'operationName');
  const variables = own(body, 'variables');
  const extensions = own(body, 'extensions');
  if (typeof query !== 'string') return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
  if (variables !== undefined && variables !== null && !isRecord(variables)) return undefined;
  if (extensions !== undefined && extensions !== null && (!isRecord(extensions) || 'persistedQuery' in extensions)) return undefined;
  const known = learned.get(query, operationName ?? undefined);
  if (known === undefined) return undefined;
  const vars = variables ?? undefined;
  const cost = planCost(known.plan, vars);
  if (cost > known.acceptedCost) return undefined;
  const answer = async (context: RequestContext): Promise<string | undefined> => {
    let value: unknown;
    try {
      value = await run(known.plan, context, vars);
    } catch (err) {
      if (err === FALL_THROUGH) return undefined;
      throw err;
    }
    onAnswer();
    context.meta.operationType = 'query';
    context.meta.operationName = known.operationName?.slice(0, MAX_OPERATION_NAME_LENGTH);
    // Byte for byte what Apollo sends for this result (its prettyJSONStringify).
    return `${JSON.stringify({ data: dataOf(known.plan.key, value) })}\n`;
  };
  return { cost, answer };
}
