/**
 * A cached list: the first members of an ordered list (its window) and how
 * many members the whole list has. Stored as an envelope's data, with a version
 * of its own, by the same CAS as any value. Pure helpers: which part of a page
 * the window can answer. Knows nothing of what the members are.
 */
export interface ListWindow {
  /** Member ids in list order; at most the window's size, all of them when `total` is no larger. */
  readonly ids: readonly string[];
  readonly total: number;
}

/** Where a page starts, as the window sees it. */
export type PageStart =
  /** At the head of the list. */
  | { readonly kind: 'head' }
  /** Right after this member. */
  | { readonly kind: 'after'; readonly id: string };

/** A page the window answers: member ids, and whether members follow it. */
export interface WindowPage {
  readonly ids: readonly string[];
  readonly hasNext: boolean;
  /** Members before the page's first one. */
  readonly offset: number;
}

export const isComplete = (window: ListWindow): boolean => window.ids.length >= window.total;

/**
 * The page of `size` members from `start`, when the window holds all of it;
 * undefined when the source must answer (the page runs past the window, or the
 * member it starts after is not in the window).
 */
export function pageFromWindow(window: ListWindow, start: PageStart, size: number): WindowPage | undefined {
  let from = 0;
  if (start.kind === 'after') {
    const at = window.ids.indexOf(start.id);
    if (at === -1) return undefined;
    from = at + 1;
  }
  const end = from + size;
  if (end > window.ids.length && !isComplete(window)) return undefined;
  return { ids: window.ids.slice(from, end), hasNext: end < window.total, offset: from };
}

/** A well-formed list window (what a store or a source hands back), else undefined. */
export function asListWindow(value: unknown): ListWindow | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { ids, total } = value as { ids?: unknown; total?: unknown };
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) return undefined;
  if (!Number.isSafeInteger(total) || (total as number) < ids.length) return undefined;
  return { ids: ids as string[], total: total as number };
}
