import { errorLines, formatCents, h } from './dom.js';
import { codedErrorsOf } from './errors.js';
import type { CategoryRef, Product } from './operations.js';
import { createVersionFlash } from './version-flash.js';

export interface ProductsViewOptions {
  /** Runs `adjustStock`; rejects with Apollo Client's error when the server refuses. */
  readonly adjustStock: (id: string, delta: number) => Promise<unknown>;
  /** Puts one more of the product in the cart. */
  readonly addToCart: (id: string) => void;
  /** Runs `categorize` (replaces the product's categories); rejects with Apollo Client's error when the server refuses. */
  readonly categorize: (id: string, categoryIds: readonly string[]) => Promise<unknown>;
}

export interface ProductsView {
  /**
   * Shows the products in the given order; `null` is a product that no longer exists.
   * `categories` are the ones a product can be put in.
   */
  show(ids: readonly string[], products: readonly (Product | null)[], categories: readonly (CategoryRef | null)[]): void;
}

const COLUMNS = ['SKU', 'Name', 'Price', 'Stock', 'Version', 'Adjust stock', 'Cart'];

/**
 * The product table: one row per product, with its categories under its name (× takes it out of one, the
 * menu puts it in another), -1/+1 stock buttons, a cart button and the last error of each row.
 */
export function createProductsView(container: HTMLElement, options: ProductsViewOptions): ProductsView {
  const pending = new Set<string>();
  const errors = new Map<string, ReturnType<typeof codedErrorsOf>>();
  let ids: readonly string[] = [];
  let products: readonly (Product | null)[] = [];
  let categories: readonly CategoryRef[] = [];

  const tbody = h('tbody');
  container.replaceChildren(
    h(
      'table',
      { class: 'products' },
      h('thead', {}, h('tr', {}, ...COLUMNS.map((t) => h('th', {}, t)))),
      tbody,
    ),
  );

  const render = (): void => {
    tbody.replaceChildren(...ids.flatMap((id, i) => rowsOf(id, products[i] ?? null)));
  };
  const flash = createVersionFlash(render);

  /** The product's row, and under it a row with the last error of its stock buttons. */
  const rowsOf = (id: string, product: Product | null): HTMLTableRowElement[] => {
    if (product === null) {
      return [h('tr', { 'data-id': id, class: 'gone' }, h('td', { colspan: COLUMNS.length }, `${id}: no such product (deleted?)`))];
    }
    const busy = pending.has(id);
    const rowErrors = errors.get(id) ?? [];
    const button = (delta: number) => {
      const label = delta > 0 ? `+${delta}` : `\u2212${-delta}`;
      const b = h('button', { type: 'button', class: 'adjust', 'data-delta': delta, disabled: busy, 'aria-label': `${label} ${product.sku}` }, label);
      b.addEventListener('click', () => void adjust(id, delta));
      return b;
    };
    const row = h(
      'tr',
      {
        'data-id': id,
        'data-sku': product.sku,
        'data-stock': product.stock,
        'data-version': product.version,
        class: flash.has(id) ? 'changed' : undefined,
      },
      h('td', { class: 'sku' }, product.sku),
      h('td', { class: 'name' }, h('div', {}, product.name), categoriesOf(product, busy)),
      h('td', { class: 'price' }, formatCents(product.priceCents)),
      h('td', { class: 'stock' }, product.stock),
      h('td', { class: 'version', title: `updated ${product.updatedAt}` }, `v${product.version}`),
      h('td', { class: 'actions' }, button(-1), button(1)),
      h('td', { class: 'cart' }, addButton(product)),
    );
    if (rowErrors.length === 0) return [row];
    const errorRow = h(
      'tr',
      { class: 'error-row', 'data-for-sku': product.sku },
      h(
        'td',
        { class: 'error', colspan: COLUMNS.length, 'data-codes': rowErrors.map((e) => e.code).join(' ') },
        ...errorLines(rowErrors),
      ),
    );
    return [row, errorRow];
  };

  /** The product's categories as chips, and a menu of the others to put it in. */
  const categoriesOf = (product: Product, busy: boolean): HTMLElement => {
    const current = product.categories.map((c) => c.id);
    const chips = product.categories.map((c) => {
      const remove = h('button', { type: 'button', class: 'uncategorize', disabled: busy, 'aria-label': `Take ${product.sku} out of ${c.name}` }, '\u00d7');
      remove.addEventListener('click', () => void run(product.id, () => options.categorize(product.id, current.filter((id) => id !== c.id))));
      return h('span', { class: 'category', 'data-slug': c.slug }, c.name, remove);
    });
    const others = categories.filter((c) => !current.includes(c.id));
    const menu = h(
      'select',
      { class: 'categorize', disabled: busy, hidden: others.length === 0, 'aria-label': `Put ${product.sku} in a category` },
      h('option', { value: '' }, '+ category'),
      ...others.map((c) => h('option', { value: c.id, 'data-slug': c.slug }, c.name)),
    );
    menu.addEventListener('change', () => {
      if (menu.value !== '') void run(product.id, () => options.categorize(product.id, [...current, menu.value]));
    });
    return h('div', { class: 'categories' }, ...chips, menu);
  };

  // Not disabled when the stock is 0: the server decides, and says INSUFFICIENT_STOCK.
  const addButton = (product: Product): HTMLButtonElement => {
    const b = h('button', { type: 'button', class: 'add-to-cart', 'aria-label': `Add ${product.sku} to the cart` }, 'Add');
    b.addEventListener('click', () => options.addToCart(product.id));
    return b;
  };

  const adjust = (id: string, delta: number): Promise<void> => run(id, () => options.adjustStock(id, delta));

  /** One change of a row at a time; its error, if any, shows under the row until the next change. */
  const run = async (id: string, change: () => Promise<unknown>): Promise<void> => {
    pending.add(id);
    errors.delete(id);
    render();
    try {
      await change();
    } catch (err) {
      errors.set(id, codedErrorsOf(err));
    } finally {
      pending.delete(id);
      render();
    }
  };

  return {
    show(nextIds, nextProducts, nextCategories) {
      ids = nextIds;
      products = nextProducts;
      categories = nextCategories.filter((c) => c !== null);
      flash.note(nextProducts);
      render();
    },
  };
}
