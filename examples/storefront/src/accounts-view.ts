import { formatCents, h } from './dom.js';
import type { Account } from './operations.js';
import { createVersionFlash } from './version-flash.js';

export interface AccountsView {
  show(ids: readonly string[], accounts: readonly (Account | null)[]): void;
}

/** The demo accounts with their balance and version; an order debits one of them. */
export function createAccountsView(container: HTMLElement): AccountsView {
  const list = h('ul', { class: 'accounts' });
  let ids: readonly string[] = [];
  let accounts: readonly (Account | null)[] = [];
  container.replaceChildren(h('h2', {}, 'Accounts'), list);

  const render = (): void => {
    list.replaceChildren(
      ...ids.map((id, i) => {
        const account = accounts[i];
        if (!account) return h('li', { 'data-id': id, class: 'gone' }, `${id}: no such account`);
        return h(
          'li',
          {
            'data-id': id,
            'data-balance-cents': account.balanceCents,
            'data-version': account.version,
            class: flash.has(id) ? 'changed' : undefined,
          },
          h('span', { class: 'owner' }, account.owner),
          h('span', { class: 'balance' }, formatCents(account.balanceCents)),
          h('span', { class: 'version' }, `v${account.version}`),
        );
      }),
    );
  };
  const flash = createVersionFlash(render);

  return {
    show(nextIds, nextAccounts) {
      ids = nextIds;
      accounts = nextAccounts;
      flash.note(nextAccounts);
      render();
    },
  };
}
