import { formatCents, h } from './dom.js';
import type { Account } from './operations.js';

export interface AccountsView {
  show(ids: readonly string[], accounts: readonly (Account | null)[]): void;
}

/** The demo accounts with their balance and version: who will pay once orders can be placed. */
export function createAccountsView(container: HTMLElement): AccountsView {
  const list = h('ul', { class: 'accounts' });
  container.replaceChildren(h('h2', {}, 'Accounts'), list);
  return {
    show(ids, accounts) {
      list.replaceChildren(
        ...ids.map((id, i) => {
          const account = accounts[i];
          if (!account) return h('li', { 'data-id': id, class: 'gone' }, `${id}: no such account`);
          return h(
            'li',
            { 'data-id': id },
            h('span', { class: 'owner' }, account.owner),
            h('span', { class: 'balance' }, formatCents(account.balanceCents)),
            h('span', { class: 'version' }, `v${account.version}`),
          );
        }),
      );
    },
  };
}
