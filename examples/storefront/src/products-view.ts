import { formatCents, h } from './dom.js';
import { codedErrorsOf } from './errors.js';
import type { Product } from './operations.js';

export interface ProductsViewOptions {
  /** Runs `adjustStock`; rejects with Apollo Client's error when the server refuses. */
  readonly adjustStock: (id: string, delta: number) => Promise<unknown>;
}

export interface ProductsView {
  /** Shows the products in the catalogue's order; `null` is a product that no longer exists. */
  show(ids: readonly string[], products: readonly (Product | null)[]): void;
}

const FLASH_MS = 1500;
const COLUMNS = ['SKU', 'Name', 'Price', 'Stock', 'Version', 'Adjust stock'];

/** The product table: one row per product, with -1/+1 stock buttons and the last error of each row. */
export function createProductsView(container: HTMLElement, options: ProductsViewOptions): ProductsView {
  const pending = new Set<string>();
  const errors = new Map<string, ReturnType<typeof codedErrorsOf>>();
  const versions = new Map<string, number>();
  const flashing = new Set<string>();
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
        class: flashing.has(id) ? 'changed' : undefined,
      },
      h('td', { class: 'sku' }, product.sku),
      h('td', { class: 'name' }, product.name),
      h('td', { class: 'price' }, formatCents(product.priceCents)),
      h('td', { class: 'stock' }, product.stock),
      h('td', { class: 'version', title: `updated ${product.updatedAt}` }, `v${product.version}`),
      h('td', { class: 'actions' }, button(-1), button(1)),
    );
    if (rowErrors.length === 0) return [row];
    const errorRow = h(
      'tr',
      { class: 'error-row', 'data-for-sku': product.sku },
      h(
        'td',
        { class: 'error', colspan: COLUMNS.length, 'data-codes': rowErrors.map((e) => e.code).join(' ') },
        ...rowErrors.map((e) => h('div', {}, h('code', {}, e.code), ` ${e.message}`)),
      ),
    );
    return [row, errorRow];
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
      // A row whose version went up since the last render (here or in another window) flashes once.
      for (const product of nextProducts) {
        if (product === null) continue;
        const seen = versions.get(product.id);
        versions.set(product.id, product.version);
        if (seen !== undefined && seen < product.version) {
          flashing.add(product.id);
          setTimeout(() => {
            flashing.delete(product.id);
            render();
          }, FLASH_MS);
        }
      }
      render();
    },
  };
}
