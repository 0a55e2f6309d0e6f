import type { CacheEngine } from './cache/engine.js';
import type { Readers } from './loaders/readers.js';
import { RequestLoaders } from './loaders/request-loaders.js';
import type { WriteThrough, Writes } from './services/write-through.js';

/**
 * What the HTTP layer and the plugins learn about one request, for its log line,
 * its metrics and the debug view. Filled in as the request goes; never read by resolvers.
 */
export interface RequestMeta {
  /** From `x-request-id`, or generated; echoed in the response. */
  readonly id: string;
  /** The client asked for `extensions.cache` (`x-freshgraph-debug: 1`) and the server allows it. */
  readonly debug: boolean;
  operationName: string | undefined;
  operationType: 'query' | 'mutation' | 'subscription' | undefined;
  /** `extensions.code` of the errors sent, only when there were any. */
  errorCodes: string[] | undefined;
}

export const newRequestMeta = (id: string, debug = false): RequestMeta => ({
  id,
  debug,
  operationName: undefined,
  operationType: undefined,
  errorCodes: undefined,
});

/** What every resolver receives: fresh loaders for this request, and the write path primed into them. */
export interface RequestContext {
  readonly meta: RequestMeta;
  readonly loaders: RequestLoaders;
  /** Services commit through this: what they change is primed into this request's loaders. */
  readonly writes: Writes;
}

export interface ContextDeps {
  readonly readers: Readers;
  readonly cache: CacheEngine;
  readonly writeThrough: WriteThrough;
}

class Context implements RequestContext {
  readonly loaders: RequestLoaders;
  private primedWrites: Writes | undefined;

  constructor(
    readonly meta: RequestMeta,
    deps: ContextDeps,
    private readonly writeThrough: WriteThrough,
  ) {
    this.loaders = new RequestLoaders(deps.readers, deps.cache);
  }

  // Made on first use: a read request never needs it.
  get writes(): Writes {
    return (this.primedWrites ??= this.writeThrough.observed((committed) => this.loaders.prime(committed.entities, committed.lists)));
  }
}

/** `meta` comes from the HTTP layer; contexts made elsewhere (tests, scripts) get an anonymous one. */
export function createContextFactory(deps: ContextDeps): (meta?: RequestMeta) => RequestContext {
  return (meta = newRequestMeta('internal')) => new Context(meta, deps, deps.writeThrough);
}
