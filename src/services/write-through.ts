import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import type { CacheEngine, CacheEntry } from '../cache/engine.js';
import type { ListWindow } from '../cache/list-window.js';
import { entityKey, listKey, lookupKey } from '../cached-values.js';
import type { ChangeScope, EntityChange, ListChange } from '../db/change-scope.js';
import { loadWindows } from '../db/list-sql.js';
import type { OutboxRepository } from '../db/outbox-repository.js';
import { RecordingScope } from '../db/recording-scope.js';
import { inTransaction } from '../db/transaction.js';
import { entityOf, LISTS, listNamed } from '../entities/index.js';
import type { EntityDefinition } from '../entities/define.js';
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

/** What a service writes through: a transaction whose changes reach the cache after its commit. */
export interface Writes {
  commit<R>(work: (scope: ChangeScope) => Promise<R>, options?: CommitOptions): Promise<R>;
}

/** A list's committed state after a transaction: its version and its window. */
export interface CommittedList {
  readonly list: string;
  readonly owner: string;
  readonly version: number;
  readonly window: ListWindow;
}

/** What one transaction committed: its entities' new states and its lists' new windows. */
export interface Committed {
  readonly entities: readonly EntityChange[];
  readonly lists: readonly CommittedList[];
}

/** The outbox and the workers around it. */
export interface Durability {
  readonly outbox: OutboxRepository;
  readonly clearer: OutboxClearer;
  readonly repair: CacheRepair;
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

/**
 * The write path shared by every entity and list:
 * 1. run `work` in a transaction; each statement that changes cached rows or
 *    join rows records them in the outbox and raises the affected lists'
 *    versions within that same statement (the scope, db/recording-scope.ts);
 * 2. still inside the transaction, read the new window of every list it
 *    changed (one statement; the version locks make it exactly that version);
 * 3. after the commit (never before), write every changed row and list to the
 *    cache in one round trip, with retries, with the lookup hints it made stale;
 * 4. on success, clear the outbox rows (batched, later); on failure, read those
 *    keys from the database here until the repair worker has replayed them.
 */
export class WriteThrough implements Writes {
  private readonly lists: readonly ListDefinition[];
  private readonly listWindow: number;

  constructor(private readonly deps: WriteThroughDeps) {
    this.lists = deps.lists ?? LISTS;
    this.listWindow = deps.listWindow ?? 200;
  }

  commit<R>(work: (scope: ChangeScope) => Promise<R>, options: CommitOptions = {}): Promise<R> {
    return this.run(work, options, undefined);
  }

  /** The same writes, also handing what committed to `observe` (a request primes its loaders with it). */
  observed(observe: (committed: Committed) => void): Writes {
    return { commit: (work, options = {}) => this.run(work, options, observe) };
  }

  private async run<R>(work: (scope: ChangeScope) => Promise<R>, options: CommitOptions, observe: ((committed: Committed) => void) | undefined): Promise<R> {
    const { knex, cache, durability } = this.deps;
    const started = performance.now();
    let scope: RecordingScope | undefined;
    let windows: CommittedList[] = [];
    let result: R;
    const contended = new Map<EntityDefinition<unknown>, Set<string>>();
    try {
      result = await inTransaction(knex, async (trx) => {
        // A retried attempt starts again from nothing, but for the rows it must lock first.
        scope = new RecordingScope(trx, { record: cache !== undefined, lists: this.lists, contended });
        const value = await work(scope);
        windows = await this.windowsOf([...scope.lists.values()], trx);
        return value;
      });
    } catch (err) {
      throw toClientError(err, options.onUniqueViolation);
    }
    const done = scope as RecordingScope;
    const entities = [...done.changes.values()];
    const committed: Committed = { entities, lists: windows };
    if (cache !== undefined && (entities.length > 0 || windows.length > 0 || done.staleLookups.size > 0)) {
      const entries = this.entriesOf(cache, done, windows);
      const deletes = [...done.staleLookups.values()].flatMap((l) => {
        const entity = entityOf(l.type);
        return entity === undefined ? [] : [lookupKey(cache.keys, entity, l.field, l.value)];
      });
      const landed = await cache.write(entries, { deletes, loadMs: performance.now() - started });
      if (durability !== undefined) {
        if (landed) {
          durability.clearer.enqueue(done.outboxIds);
        } else {
          const keys = entries.map((e) => e.key);
          cache.trust.distrust(keys);
          durability.repair.watch(done.outboxIds, keys);
        }
      }
    }
    if (entities.length > 0 || windows.length > 0) {
      this.deps.onCommitted?.(committed);
      observe?.(committed);
    }
    return result;
  }

  /** The new windows of the changed lists, in one statement, inside the transaction. */
  private async windowsOf(changed: readonly ListChange[], trx: Knex.Transaction): Promise<CommittedList[]> {
    if (changed.length === 0) return [];
    const owners = new Map<ListDefinition, string[]>();
    for (const { list: name, owner } of changed) {
      const list = listNamed(name);
      if (list === undefined) continue;
      const of = owners.get(list);
      if (of) of.push(owner);
      else owners.set(list, [owner]);
    }
    const loaded = await loadWindows(trx, [...owners].map(([list, o]) => ({ list, owners: o })), this.listWindow);
    const versions = new Map(changed.map((c) => [`${c.list}\0${c.owner}`, c.version]));
    return [...owners].flatMap(([list, of]) =>
      of.map((owner): CommittedList => {
        const record = loaded.get(list.name)?.get(owner);
        const window: ListWindow = record?.data ?? { ids: [], total: 0 };
        return { list: list.name, owner, window, version: record?.version ?? versions.get(`${list.name}\0${owner}`) ?? 0 };
      }),
    );
  }

  private entriesOf(cache: CacheEngine, scope: RecordingScope, windows: readonly CommittedList[]): CacheEntry[] {
    const entries: CacheEntry[] = [];
    for (const change of scope.changes.values()) {
      const entity = entityOf(change.type);
      if (entity !== undefined) entries.push({ key: entityKey(cache.keys, entity, change.id), version: change.version, data: change.data, shape: entityShape(entity) });
    }
    for (const committed of windows) {
      const list = listNamed(committed.list);
      if (list !== undefined) entries.push({ key: listKey(cache.keys, list, committed.owner), version: committed.version, data: committed.window, shape: listShape(list) });
    }
    return entries;
  }
}
