import { h } from './dom.js';
import type { CategoryRef } from './operations.js';

export interface CategoryFilterOptions {
  /** A category's slug, or undefined for every product of the catalogue. */
  readonly onSelect: (slug: string | undefined) => void;
}

/** What the products view shows: how many products, once they have been read. */
export type FilterCount = { readonly slug: string | undefined; readonly totalCount: number } | undefined;

export interface CategoryFilter {
  /** The categories to offer, which one is selected, and how many products the selection holds (undefined while reading). */
  show(categories: readonly (CategoryRef | null)[], selected: string | undefined, count: FilterCount): void;
}

/** A row of toggle buttons, "All" and one per category; the page keeps the selection, this only shows it. */
export function createCategoryFilter(container: HTMLElement, options: CategoryFilterOptions): CategoryFilter {
  const buttons = h('div', { class: 'filters', role: 'group', 'aria-label': 'Show the products of' });
  const count = h('span', { class: 'count', 'aria-live': 'polite' });
  container.replaceChildren(buttons, count);

  const button = (slug: string | undefined, label: string, pressed: boolean): HTMLButtonElement => {
    const b = h('button', { type: 'button', class: 'filter', 'data-slug': slug ?? '', 'aria-pressed': String(pressed) }, label);
    b.addEventListener('click', () => options.onSelect(slug));
    return b;
  };

  return {
    show(categories, selected, shown) {
      buttons.replaceChildren(
        button(undefined, 'All', selected === undefined),
        ...categories.flatMap((c) => (c ? [button(c.slug, c.name, c.slug === selected)] : [])),
      );
      if (shown === undefined || shown.slug !== selected) {
        count.textContent = 'reading\u2026';
        delete count.dataset['totalCount'];
      } else {
        count.textContent = `${shown.totalCount} product${shown.totalCount === 1 ? '' : 's'}`;
        count.dataset['totalCount'] = String(shown.totalCount);
      }
    },
  };
}
