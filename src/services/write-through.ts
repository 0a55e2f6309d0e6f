import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import type { CacheEngine, CacheEntry } from '../cache/engine.js';
import type { ListWindow } from '../cache/list-window.js';
import { entityKey, listKey, lookupKey } from '../cached-values.js';
import type { ChangeScope, EntityChange, ListChange, StatementScope } from '../db/change-scope.js';
import type { Queryable } from '../db/entity-sql.js';
import { loadWindows } from '../db/list-sql.js';
import { RecordingScope, type Contended } from '../db/recording-scope.js';
import { inTransaction } from '../db/transaction.js';
import { entityOf, LISTS, listNamed } from '../entities/index.js';
import type { ListDefinition } from '../entities/lists.js';
import { entityShape, listShape } from '../entities/shapes.js';
import type { AppError } from '../errors.js';
import type { CacheRepair } from './cache-repair.js';
import { toClientError } from './db-failures.js';
import type { OutboxClearer } from './outbox-clearer.js';

export type { EntityChange };

export interface CommitOptions {
  /** The coded error a unique violation means for this write (ALREADY_EXISTS for a taken sku, say). @default undefined (masked) */
  readonly onUniqueViolation?: () => AppError;
}

/** What a service writes through: a transaction, or one statement, whose changes reach the cache after its commit. */
export interface Writes {
  commit<R>(work: (scope: ChangeScope) => Promise<R>, options?: CommitOptions): Promise<R>;
  /**
   * A write that is one change statement (reads around it allowed): it commits
   * on its own, without BEGIN and COMMIT, with its outbox rows and list versions
   * in that statement, and reaches the cache exactly as a transaction's would.
   */
  commitStatement<R>(work: (scope: StatementScope) => Promise<R>, options?: CommitOptions): Promise<R>;
}

/** A list's committed state after a write: its version and its window. */
export interface CommittedList {
  readonly list: string;
  readonly owner: string;
  readonly version: number;
  readonly window: ListWindow;
}

/** What one write committed: its entities' new states and its lists' new windows. */
export interface Committed {
  readonly entities: readonly EntityChange[];
  readonly lists: readonly CommittedList[];
}

/**
 * What becomes of a committed write's outbox rows, the one thing the write
 * path tells the durable half: the rows of a write that landed only wait to be
 * deleted; a write that did not land is repaired from them, and its keys are
 * read from the database here meanwhile.
 */
export interface Durability {
  landed(outboxIds: readonly string[]): void;
  missed(outboxIds: readonly string[], keys: readonly string[]): void;
}

/** The outbox's two workers as the write path's Durability. */
export function outboxDurability(clearer: OutboxClearer, repair: CacheRepair): Durability {
  return { landed: (ids) => clearer.enqueue(ids), missed: (ids, keys) => repair.watch(ids, keys) };
}

export interface WriteThroughDeps {
  readonly knex: Knex;
  /** Where committed changes go; undefined when nothing is cached (CACHE_MODE=off): then nothing is recorded either. */
  readonly cache?: CacheEngine;
  readonly durability?: Durability;
  /** Members a cached list holds (CACHE_LIST_WINDOW). @default 200 */
  readonly listWindow?: number;
  /** @default LISTS */
  readonly lists?: readonly ListDefinition[];
  /** Told of every committed change (the consistency sampler). @default undefined */
  readonly onCommitted?: (committed: Committed) => void;
}

type Mode = 'transaction' | 'statement';

/** A definition's shape is a hash of it: computed once, not on every write. */
const shapes = new WeakMap<object, string>();
function shapeOf<D extends object>(definition: D, compute: (definition: D) => string): string {
  let shape = shapes.get(definition);
  if (shape === undefined) shapes.set(definition, (shape = compute(definition)));
  return shape;
}

/**
 * The write path shared by every entity and list:
 * 1. run `work` in a transaction, or as one autocommitted statement; each
 *    statement that changes cached rows or join rows records them in the
 *    outbox and raises the affected lists' versions within that same
 *    statement (the scope, db/recording-scope.ts);
 * 2. read the new window of every list it changed, in one statement: inside
 *    the transaction (the version locks make it exactly that version), or
 *    after the one statement committed (one snapshot holds a list's version
 *    and its members together, so the window is exactly the version it reads);
 * 3. after the commit (never before), write every changed row and list to the
 *    cache in one round trip, with retries, with the lookup hints it made stale;
 * 4. tell the durable half whether that landed (its outbox rows only wait to
 *    be deleted) or not (they are replayed; the keys are read from the
 *    database here meanwhile).
 */
export class WriteThrough implements Writes {
  private readonly lists: readonly ListDefinition[];
  private readonly listWindow: number;

  constructor(private readonly deps: WriteThroughDeps) {
    this.lists = deps.lists ?? LISTS;
    this.listWindow = deps.listWindow ?? 200;
  }

  commit<R>(work: (scope: ChangeScope) => Promise<R>, options: CommitOptions = {}): Promise<R> {
    return this.run('transaction', work, options, undefined);
  }

  commitStatement<R>(work: (scope: StatementScope) => Promise<R>, options: CommitOptions = {}): Promise<R> {
    return this.run('statement', work, options, undefined);
  }

  /** The same writes, also handing what committed to `observe` (a request primes its loaders with it). */
  observed(observe: (committed: Committed) => void): Writes {
    return {
      commit: (work, options = {}) => this.run('transaction', work, options, observe),
      commitStatement: (work, options = {}) => this.run('statement', work, options, observe),
    };
  }

  private async run<R>(mode: Mode, work: (scope: RecordingScope) => Promise<R>, options: CommitOptions, observe: ((committed: Committed) => void) | undefined): Promise<R> {
    const { knex, cache } = this.deps;
    const started = performance.now();
    const recording = { record: cache !== undefined, lists: this.lists };
    let scope: RecordingScope | undefined;
    let windows: CommittedList[] | undefined = [];
    let result: R;
    if (mode === 'transaction') {
      const contended: Contended = new Map();
      try {
        result = await inTransaction(knex, async (trx) => {
          // A retried attempt starts again from nothing, but for the rows it must lock first.
          scope = new RecordingScope({ transaction: trx }, { ...recording, contended });
          const value = await work(scope);
          windows = await this.windowsOf([...scope.lists.values()], trx);
          return value;
        });
      } catch (err) {
        throw toClientError(err, options.onUniqueViolation);
      }
    } else {
      const one = (scope = new RecordingScope({ autocommit: knex }, recording));
      try {
        result = await work(one);
      } catch (err) {
        // The statement may have committed before `work` failed: what it recorded is repaired.
        if (one.outboxIds.length > 0) this.deps.durability?.missed(one.outboxIds, cache === undefined ? [] : this.keysOf(cache, one));
        throw toClientError(err, options.onUniqueViolation);
      }
      // Committed already: a window that cannot be read now is the repair's to write.
      windows = await this.windowsOf([...one.lists.values()], knex).catch(() => undefined);
    }
    const done = scope as RecordingScope;
    const committed: Committed = { entities: [...done.changes.values()], lists: windows ?? [] };
    if (cache !== undefined) await this.reachCache(cache, done, committed, windows === undefined, started);
    if (committed.entities.length > 0 || committed.lists.length > 0) {
      this.deps.onCommitted?.(committed);
      observe?.(committed);
    }
    return result;
  }

  /** Step 3 and 4: one round trip to the cache, then the outbox rows' fate. `unread`: the lists' windows are missing. */
  private async reachCache(cache: CacheEngine, done: RecordingScope, committed: Committed, unread: boolean, started: number): Promise<void> {
    if (committed.entities.length === 0 && committed.lists.length === 0 && done.staleLookups.size === 0 && !unread) return;
    const entries = this.entriesOf(cache, committed);
    const deletes = [...done.staleLookups.values()].flatMap((l) => {
      const entity = entityOf(l.type);
      return entity === undefined ? [] : [lookupKey(cache.keys, entity, l.field, l.value)];
    });
    const landed = entries.length === 0 && deletes.length === 0 ? true : await cache.write(entries, { deletes, loadMs: performance.now() - started });
    const durability = this.deps.durability;
    if (durability === undefined) return;
    if (landed && !unread) durability.landed(done.outboxIds);
    else durability.missed(done.outboxIds, this.keysOf(cache, done));
  }

  /** The keys of every value a write changed: its entities and its lists. */
  private keysOf(cache: CacheEngine, scope: RecordingScope): string[] {
    const keys: string[] = [];
    for (const change of scope.changes.values()) {
      const entity = entityOf(change.type);
      if (entity !== undefined) keys.push(entityKey(cache.keys, entity, change.id));
    }
    for (const change of scope.lists.values()) {
      const list = listNamed(change.list);
      if (list !== undefined) keys.push(listKey(cache.keys, list, change.owner));
    }
    return keys;
  }

  /** The new windows of the changed lists, in one statement: inside the transaction, or after the one statement. */
  private async windowsOf(changed: readonly ListChange[], db: Queryable): Promise<CommittedList[]> {
    if (changed.length === 0) return [];
    const owners = new Map<ListDefinition, string[]>();
    for (const { list: name, owner } of changed) {
      const list = listNamed(name);
      if (list === undefined) continue;
      const of = owners.get(list);
      if (of) of.push(owner);
      else owners.set(list, [owner]);
    }
    const loaded = await loadWindows(db, [...owners].map(([list, o]) => ({ list, owners: o })), this.listWindow);
    const versions = new Map(changed.map((c) => [`${c.list}\0${c.owner}`, c.version]));
    return [...owners].flatMap(([list, of]) =>
      of.map((owner): CommittedList => {
        const record = loaded.get(list.name)?.get(owner);
        const window: ListWindow = record?.data ?? { ids: [], total: 0 };
        return { list: list.name, owner, window, version: record?.version ?? versions.get(`${list.name}\0${owner}`) ?? 0 };
      }),
    );
  }

  private entriesOf(cache: CacheEngine, committed: Committed): CacheEntry[] {
    const entries: CacheEntry[] = [];
    for (const change of committed.entities) {
      const entity = entityOf(change.type);
      if (entity !== undefined) entries.push({ key: entityKey(cache.keys, entity, change.id), version: change.version, data: change.data, shape: shapeOf(entity, entityShape) });
    }
    for (const list of committed.lists) {
      const definition = listNamed(list.list);
      if (definition !== undefined) entries.push({ key: listKey(cache.keys, definition, list.owner), version: list.version, data: list.window, shape: shapeOf(definition, listShape) });
    }
    return entries;
  }
}
