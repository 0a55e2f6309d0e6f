import type { ApolloServer, ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../context.js';
import type { OfferedRequest, Shortcut } from '../http/handler.js';
import type { Admission } from '../plugins/admission.js';
import { DEBUG_HEADER } from '../plugins/debug-extensions.js';
import type { ShortcutAnswer } from './shortcut.js';

/**
 * The fence around the shortcut (answering a learned operation before Apollo's
 * pipeline): every condition under which it may answer is here, and nowhere
 * else. It refuses by default: a request it does not recognise as plain, and
 * a server with any plugin not on its allow-list, go through Apollo.
 */

/** A router sends it to ask for a federated trace (`ftv1`). */
export const TRACE_HEADER = 'apollo-federation-include-trace';

/**
 * A request that names a trace in any way is Apollo's to answer (its inline-trace
 * plugin then decides on the value): the shortcut and the fast path never trace.
 */
export const asksForTrace = (value: string | readonly string[] | null | undefined): boolean => value !== undefined && value !== null;

/**
 * Why each plugin the shortcut skips may be skipped: for a request the shortcut
 * answers, its every hook does nothing, or the shortcut does what it does. A plugin
 * is on the allow-list only through one of these reasons.
 */
export const SKIPPABLE = {
  wellFormedText: 'the shortcut never sees a body that could hold ill-formed text (see mayHoldSurrogates)',
  requestMeta: 'the shortcut records the operation name and type itself',
  costLimit:
    'a learned operation has passed it at a cost at least as high, priced by its own rules (cost.ts, checked against operationCost when learned); the shortcut takes its turn in the same admission at that cost',
  entitiesLimit: 'the fast path falls through on more representations than MAX_LIST_LENGTH (the limit the server gives it) and on any it cannot serve',
  connectionArgs: 'the fast path checks first and after with the resolvers\' own checks (firstOf, decodeCursor) and falls through on any they refuse',
  landingPage: 'it serves GET requests only, which the shortcut never answers',
  writeAccess: 'it refuses mutations only, and no mutation is ever learned',
  debugExtensions: 'a request that asks for the debug view never takes the shortcut',
  executionDeadline:
    'it stops resolvers that would start late, and the shortcut runs none: it makes one read per level of its plan (at most as many as execution would), each as soon as the level above is read',
  disabled: 'a disabled plugin has no hooks',
  tracing: 'it acts on requests that ask for a trace only, which never take the shortcut',
  fastPath: 'the shortcut answers what the fast path itself has learned',
} as const;

export type SkipReason = keyof typeof SKIPPABLE;

const reasons = new WeakMap<object, SkipReason>();

/** Puts a plugin on the allow-list, for one of the reasons in SKIPPABLE. */
export function skippable<P extends object>(plugin: P, reason: SkipReason): P {
  reasons.set(plugin, reason);
  return plugin;
}

/** Why the shortcut may skip this plugin, or undefined when it may not. */
export const skipReason = (plugin: object): SkipReason | undefined => reasons.get(plugin);

/**
 * Whether a JSON text may hold a UTF-16 surrogate: JSON.parse makes one only from
 * a `\uD800`-`\uDFFF` escape (invalid UTF-8 bytes were already decoded as U+FFFD).
 * Such bodies go through Apollo's pipeline, whose plugin refuses text that is not
 * well-formed; the shortcut, which runs no plugin, never sees them.
 */
export function mayHoldSurrogates(text: string): boolean {
  return text.includes('\\u') && /\\u[dD][89a-fA-F]/.test(text);
}

/**
 * The content type Apollo would choose for a single result, for the `accept`
 * values whose choice is plain; undefined for anything that needs Apollo's own
 * negotiation (which then answers the request).
 */
export function shortcutContentType(accept: string | undefined): string | undefined {
  if (accept === undefined || accept === '' || accept === '*/*' || accept === 'application/json') return 'application/json; charset=utf-8';
  if (accept === 'application/graphql-response+json') return 'application/graphql-response+json; charset=utf-8';
  return undefined;
}

export type FencedShortcut = (request: OfferedRequest) => Shortcut<RequestContext> | undefined;

/**
 * Which requests the shortcut may answer, by what the HTTP layer has already
 * decided (a POST of JSON, accepted by `accept`, CORS and the router secret
 * done): no trace or debug view asked for, no possible surrogate, an `accept`
 * whose content type is plain. Everything else is left to Apollo.
 */
export function admit(request: OfferedRequest): string | undefined {
  const { headers } = request;
  if (request.method !== 'POST' || request.body === undefined) return undefined;
  if (asksForTrace(headers[TRACE_HEADER]) || headers[DEBUG_HEADER] !== undefined) return undefined;
  if (mayHoldSurrogates(request.text)) return undefined;
  return shortcutContentType(headers.accept);
}

export interface FenceOptions {
  readonly apollo: ApolloServer<RequestContext>;
  /** The plugins the server was built with. */
  readonly plugins: readonly ApolloServerPlugin<RequestContext>[];
  /** The fast path's answer to a parsed body, unfenced. */
  readonly shortcut: (body: unknown) => ShortcutAnswer | undefined;
  /** Apollo's usage reporting would miss the requests the shortcut answers: with it, the shortcut is never on. */
  readonly usageReporting: boolean;
  /** The admission the cost limit puts requests through: the shortcut answers only when it has room at once. */
  readonly admission?: Admission;
  /** Told once when a plugin added later turns the shortcut off. */
  readonly onClosed: (plugin: ApolloServerPlugin<RequestContext>) => void;
}

/**
 * The shortcut behind its fence, or undefined when it can never be on. It is on
 * while every plugin is on the allow-list, including any added later with
 * `apollo.addPlugin`: one that is not turns it off for good.
 */
export function fence(options: FenceOptions): FencedShortcut | undefined {
  if (options.usageReporting) return undefined;
  const { apollo, shortcut, onClosed } = options;
  let open = options.plugins.every((plugin) => skipReason(plugin) !== undefined);
  const addPlugin = apollo.addPlugin.bind(apollo);
  apollo.addPlugin = (plugin) => {
    addPlugin(plugin);
    if (open && skipReason(plugin) === undefined) {
      open = false;
      onClosed(plugin);
    }
  };
  const { admission } = options;
  return (request) => {
    const contentType = open ? admit(request) : undefined;
    const found = contentType === undefined ? undefined : shortcut(request.body);
    if (contentType === undefined || found === undefined) return undefined;
    if (admission === undefined) return { contentType, answer: found.answer };
    return {
      contentType,
      async answer(context) {
        // No room now: Apollo's pipeline puts the request in line.
        const ticket = admission.tryEnter(found.cost);
        if (ticket === undefined) return undefined;
        try {
          return await found.answer(context);
        } finally {
          admission.leave(ticket);
        }
      },
    };
  };
}
