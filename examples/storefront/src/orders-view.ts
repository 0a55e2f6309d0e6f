import { formatCents, h } from './dom.js';
import type { Account, OrderHistoryPage } from './operations.js';
import { FLASH_MS } from './version-flash.js';

export interface OrdersViewOptions {
  /** Another account's history was chosen. */
  readonly onAccount: (accountId: string) => void;
  /** The "more" button: the page after the last one shown. */
  readonly onMore: () => void;
}

export interface OrdersView {
  /** The accounts to choose from, and the one whose history is shown. */
  showAccounts(accounts: readonly (Account | null)[], selected: string): void;
  /** The history as read so far: undefined while the first page is on its way, null when there is no such account. */
  show(accountId: string, orders: OrderHistoryPage | null | undefined, loadingMore: boolean): void;
}

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });

/**
 * One account's orders, newest first, as the server's connection pages them:
 * the total, the pages read so far, and a "more" button while pages follow. An
 * order that was not there at the last render (placed here or in another
 * window) is marked for a moment.
 */
export function createOrdersView(container: HTMLElement, options: OrdersViewOptions): OrdersView {
  const picker = h('select', { class: 'history-account', 'aria-label': 'The account whose orders are shown' });
  const summary = h('p', { class: 'summary' });
  const list = h('ol', { class: 'history' });
  const more = h('button', { type: 'button', class: 'more' }, 'More orders');
  container.replaceChildren(h('h2', {}, 'Orders of ', picker), summary, list, more);
  picker.addEventListener('change', () => options.onAccount(picker.value));
  more.addEventListener('click', () => options.onMore());

  // Per account, the orders already shown; undefined until its first page, whose orders are not new.
  const seen = new Map<string, Set<string>>();
  const fresh = new Set<string>();
  let last: { accountId: string; orders: OrderHistoryPage | null | undefined; loadingMore: boolean } | undefined;

  const render = (): void => {
    if (last === undefined) return;
    const { accountId, orders, loadingMore } = last;
    container.dataset['accountId'] = accountId;
    if (orders === undefined || orders === null) {
      summary.textContent = orders === null ? `${accountId}: no such account` : 'reading\u2026';
      delete container.dataset['totalCount'];
      list.replaceChildren();
      more.hidden = true;
      return;
    }
    container.dataset['totalCount'] = String(orders.totalCount);
    summary.textContent =
      orders.totalCount === 0 ? 'No orders yet.' : `${orders.totalCount} order${orders.totalCount === 1 ? '' : 's'}, newest first; showing ${orders.edges.length}`;
    list.replaceChildren(
      ...orders.edges.map(({ cursor, node }) =>
        h(
          'li',
          { 'data-order-id': node.id, 'data-cursor': cursor, 'data-total-cents': node.totalCents, class: fresh.has(node.id) ? 'changed' : undefined },
          h('div', { class: 'head' }, h('time', { datetime: node.createdAt }, dateTime.format(new Date(node.createdAt))), h('span', { class: 'total' }, formatCents(node.totalCents))),
          h(
            'div',
            { class: 'lines' },
            node.lines.map((l) => `${l.quantity} \u00d7 ${l.product.name}`).join(', '),
          ),
        ),
      ),
    );
    more.hidden = !orders.pageInfo.hasNextPage;
    more.disabled = loadingMore;
    more.textContent = loadingMore ? 'Reading\u2026' : 'More orders';
  };

  const noteNew = (accountId: string, orders: OrderHistoryPage): void => {
    const known = seen.get(accountId);
    const ids = orders.edges.map((e) => e.node.id);
    seen.set(accountId, new Set([...(known ?? []), ...ids]));
    if (known === undefined) return;
    for (const id of ids) {
      if (known.has(id)) continue;
      fresh.add(id);
      setTimeout(() => {
        fresh.delete(id);
        render();
      }, FLASH_MS);
    }
  };

  return {
    showAccounts(accounts, selected) {
      picker.replaceChildren(...accounts.flatMap((a) => (a ? [h('option', { value: a.id }, a.owner)] : [])));
      picker.value = selected;
    },
    show(accountId, orders, loadingMore) {
      if (orders) noteNew(accountId, orders);
      last = { accountId, orders, loadingMore };
      render();
    },
  };
}
