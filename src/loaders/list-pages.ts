import { pageFromWindow, type ListWindow, type PageStart } from '../cache/list-window.js';
import { ROOT_OWNER, type ListDefinition } from '../entities/lists.js';
import type { RequestLoaders } from './request-loaders.js';

/** Where a page starts: the head of the list, or after a member (its key, and its order values when the cursor was made). */
export type PageAfter = { readonly id: string; readonly values: readonly unknown[] } | undefined;

/** One page of a list: the members' keys in order, and what the Cursor Connections spec wants to know around them. */
export interface ListPage {
  readonly ids: readonly string[];
  readonly total: number;
  readonly hasNext: boolean;
}

/**
 * A page of `first` members of `list` (owned by `owner`; ROOT_OWNER for a root
 * list). From the cached window when it holds the page: a page at the head, or
 * after a member the window holds. Otherwise from the database, by keyset (all
 * such pages of one tick in one statement). The total always comes from the
 * window, which is as fresh as any acknowledged write.
 */
export async function readPage(loaders: RequestLoaders, list: ListDefinition, owner: string, first: number, after: PageAfter): Promise<ListPage> {
  const page = await tryReadPage(loaders, list, owner, first, after);
  if (page instanceof Error) throw page;
  return page;
}

/**
 * readPage, through the same loaders, with a failed load as its Error instead of
 * a rejection: for the read fast path, which hands such a request to execution.
 */
export async function tryReadPage(loaders: RequestLoaders, list: ListDefinition, owner: string, first: number, after: PageAfter): Promise<ListPage | Error> {
  const key = list.owner === undefined ? ROOT_OWNER : owner;
  // One key asked, one slot answered.
  const found = (await loaders.list(list).loadMany([key]))[0] as ListWindow | null | Error;
  if (found instanceof Error) return found;
  const window = found ?? { ids: [], total: 0 };
  const start: PageStart = after === undefined ? { kind: 'head' } : { kind: 'after', id: after.id };
  const cached = pageFromWindow(window, start, first);
  if (cached !== undefined) return { ids: cached.ids, total: window.total, hasNext: cached.hasNext };
  const request = { owner: key, ...(after === undefined ? {} : { after }), limit: first + 1 };
  const ids = (await loaders.pages(list).loadMany([request]))[0] as string[] | Error;
  if (ids instanceof Error) return ids;
  return { ids: ids.slice(0, first), total: window.total, hasNext: ids.length > first };
}
