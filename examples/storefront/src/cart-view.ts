import { errorLines, formatCents, h } from './dom.js';
import { codedErrorsOf } from './errors.js';
import type { Account, OrderLineInput, PlacedOrder, Product } from './operations.js';

export interface CartViewOptions {
  /** Runs `placeOrder`; rejects with Apollo Client's error when the server refuses. */
  readonly placeOrder: (accountId: string, lines: readonly OrderLineInput[]) => Promise<PlacedOrder>;
}

export interface CartView {
  /** One more of the product: a new line, or one more on its line. */
  add(productId: string): void;
  /** The latest products and accounts, for the lines' prices and the account picker. */
  show(products: readonly (Product | null)[], accounts: readonly (Account | null)[]): void;
}

interface Line {
  quantity: number;
  readonly row: HTMLTableRowElement;
  readonly input: HTMLInputElement;
  readonly cells: { readonly name: HTMLElement; readonly price: HTMLElement; readonly lineTotal: HTMLElement };
}

/**
 * The cart: lines with editable quantities, the account that pays, and the
 * outcome of the last `placeOrder` (the order, or the server's error codes).
 * Nothing is checked here that the server checks (stock, funds, quantities):
 * the server's answer is the one shown. Line rows are updated in place, so a
 * re-read of the products never takes the focus from a quantity being typed.
 */
export function createCartView(container: HTMLElement, options: CartViewOptions): CartView {
  const lines = new Map<string, Line>();
  const products = new Map<string, Product>();
  let pending = false;

  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'cart-lines' },
    h('thead', {}, h('tr', {}, ...['Product', 'Quantity', 'Price', 'Line', ''].map((t) => h('th', {}, t)))),
    tbody,
  );
  const empty = h('p', { class: 'empty' }, 'Empty: add products with their cart button.');
  const total = h('span', { class: 'total' });
  const payer = h('select', { class: 'payer', 'aria-label': 'The account that pays' });
  const place = h('button', { type: 'button', class: 'place-order' }, 'Place order');
  const outcome = h('div', { class: 'outcome', 'aria-live': 'polite' });
  container.replaceChildren(
    h('h2', {}, 'Cart'),
    empty,
    table,
    h('div', { class: 'checkout' }, total, h('label', {}, 'Pay with ', payer), place),
    outcome,
  );
  place.addEventListener('click', () => void placeOrder());

  const update = (): void => {
    let sum = 0;
    for (const [id, line] of lines) {
      const product = products.get(id);
      const { cells } = line;
      cells.name.textContent = product ? product.name : `${id} (no such product)`;
      cells.price.textContent = product ? formatCents(product.priceCents) : '';
      const lineCents = product && Number.isInteger(line.quantity) ? product.priceCents * line.quantity : undefined;
      cells.lineTotal.textContent = lineCents === undefined ? '' : formatCents(lineCents);
      sum += lineCents ?? 0;
    }
    empty.hidden = lines.size > 0;
    table.hidden = lines.size === 0;
    // The server charges the prices it holds when the order commits; this is what the page knows of them.
    total.textContent = lines.size > 0 ? `Total ${formatCents(sum)}` : '';
    place.disabled = pending || lines.size === 0 || payer.value === '';
  };

  const lineFor = (productId: string): Line => {
    const sku = products.get(productId)?.sku ?? productId;
    const input = h('input', { type: 'number', min: 1, step: 1, class: 'quantity', 'aria-label': `Quantity of ${sku}` });
    const remove = h('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${sku} from the cart` }, '\u00d7');
    const cells = { name: h('td', { class: 'name' }), price: h('td', { class: 'price' }), lineTotal: h('td', { class: 'line-total' }) };
    const row = h('tr', { 'data-product-id': productId }, cells.name, h('td', {}, input), cells.price, cells.lineTotal, h('td', {}, remove));
    const line: Line = { quantity: 1, row, input, cells };
    // What was typed goes to the server as it is: a quantity below 1 is its to refuse (BAD_USER_INPUT).
    input.addEventListener('input', () => {
      line.quantity = input.value === '' ? 0 : Number(input.value);
      update();
    });
    remove.addEventListener('click', () => {
      lines.delete(productId);
      row.remove();
      update();
    });
    return line;
  };

  const showOrder = (order: PlacedOrder): void => {
    outcome.replaceChildren(
      h(
        'div',
        { class: 'order', 'data-order-id': order.id, 'data-version': order.version, 'data-total-cents': order.totalCents },
        h('div', {}, 'Order ', h('code', {}, order.id), ` v${order.version}, ${formatCents(order.totalCents)}, paid by ${order.account.owner}`),
        h(
          'ul',
          {},
          ...order.lines.map((l) =>
            h('li', { 'data-product-id': l.product.id, 'data-quantity': l.quantity }, `${l.quantity} \u00d7 ${l.product.name} at ${formatCents(l.unitPriceCents)}`),
          ),
        ),
      ),
    );
  };

  const placeOrder = async (): Promise<void> => {
    const accountId = payer.value;
    const wanted = [...lines].map(([productId, line]) => ({ productId, quantity: line.quantity }));
    pending = true;
    outcome.replaceChildren(h('p', { class: 'placing' }, 'placing the order\u2026'));
    update();
    try {
      const order = await options.placeOrder(accountId, wanted);
      // Only what was ordered leaves the cart: a line added while the order was on its way stays.
      for (const { productId } of wanted) {
        lines.get(productId)?.row.remove();
        lines.delete(productId);
      }
      showOrder(order);
    } catch (err) {
      const errors = codedErrorsOf(err);
      outcome.replaceChildren(h('div', { class: 'error', 'data-codes': errors.map((e) => e.code).join(' ') }, ...errorLines(errors)));
    } finally {
      pending = false;
      update();
    }
  };

  const showAccounts = (accounts: readonly (Account | null)[]): void => {
    const chosen = payer.value;
    payer.replaceChildren(
      ...accounts.flatMap((a) => (a ? [h('option', { value: a.id }, `${a.owner} (${formatCents(a.balanceCents)})`)] : [])),
    );
    if ([...payer.options].some((o) => o.value === chosen)) payer.value = chosen;
  };

  update();
  return {
    add(productId) {
      let line = lines.get(productId);
      if (line === undefined) {
        line = lineFor(productId);
        lines.set(productId, line);
        tbody.append(line.row);
      } else {
        line.quantity = Number.isInteger(line.quantity) && line.quantity > 0 ? line.quantity + 1 : 1;
      }
      line.input.value = String(line.quantity);
      update();
    },
    show(nextProducts, accounts) {
      products.clear();
      for (const p of nextProducts) if (p) products.set(p.id, p);
      showAccounts(accounts);
      update();
    },
  };
}
