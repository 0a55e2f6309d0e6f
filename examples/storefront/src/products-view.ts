import { errorLines, formatCents, h } from './dom.js';
import { codedErrorsOf } from './errors.js';
import type { Product } from './operations.js';
import { createVersionFlash } from './version-flash.js';

export interface ProductsViewOptions {
  /** Runs `adjustStock`; rejects with Apollo Client's error when the server refuses. */
  readonly adjustStock: (id: string, delta: number) => Promise<unknown>;
  /** Puts one more of the product in the cart. */
  readonly addToCart: (id: string) => void;
}

export interface ProductsView {
  /** Shows the products in the catalogue's order; `null` is a product that no longer exists. */
  show(ids: readonly string[], products: readonly (Product | null)[]): void;
}

const COLUMNS = ['SKU', 'Name', 'Price', 'Stock', 'Version', 'Adjust stock', 'Cart'];

/** The product table: one row per product, with -1/+1 stock buttons, a cart button and the last error of each row. */
export function createProductsView(container: HTMLElement, options: ProductsViewOptions): ProductsView {
  const pending = new Set<string>();
  const errors = new Map<string, ReturnType<typeof codedErrorsOf>>();
  let ids: readonly string[] = [];
  let products: readonly (Product | null)[] = [];

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
      h('td', { class: 'name' }, product.name),
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

  // Not disabled when the stock is 0: the server decides, and says INSUFFICIENT_STOCK.
  const addButton = (product: Product): HTMLButtonElement => {
    const b = h('button', { type: 'button', class: 'add-to-cart', 'aria-label': `Add ${product.sku} to the cart` }, 'Add');
    b.addEventListener('click', () => options.addToCart(product.id));
    return b;
  };

  const adjust = async (id: string, delta: number): Promise<void> => {
    pending.add(id);
    errors.delete(id);
    render();
    try {
      await options.adjustStock(id, delta);
    } catch (err) {
      errors.set(id, codedErrorsOf(err));
    } finally {
      pending.delete(id);
      render();
    }
  };

  return {
    show(nextIds, nextProducts) {
      ids = nextIds;
      products = nextProducts;
      flash.note(nextProducts);
      render();
    },
  };
}
