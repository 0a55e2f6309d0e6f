import { NetworkStatus } from '@apollo/client';
import { CATALOGUE_PATH, type Catalogue } from '../shared/catalogue.js';
import { createAccountsView } from './accounts-view.js';
import { createCartView } from './cart-view.js';
import { createClient } from './client.js';
import { createDebugPanel } from './debug-panel.js';
import { formatTime, mustFind } from './dom.js';
import { describeError } from './errors.js';
import { ADJUST_STOCK, PLACE_ORDER, STOREFRONT } from './operations.js';
import { createProductsView } from './products-view.js';
import './style.css';

async function main(): Promise<void> {
  const status = mustFind('#status', HTMLElement);
  const response = await fetch(CATALOGUE_PATH);
  if (!response.ok) throw new Error(`${CATALOGUE_PATH} answered ${response.status}`);
  const catalogue = (await response.json()) as Catalogue;

  const debugPanel = createDebugPanel(mustFind('#debug', HTMLElement));
  const client = createClient(catalogue.graphqlUrl ?? '/graphql', debugPanel.add);
  const cart = createCartView(mustFind('#cart', HTMLElement), {
    // No refetch, no cache update function: Apollo normalises the result's products and account into the page.
    // errorPolicy 'none' (the default, said here so the type knows): a refusal rejects, so `data` is there.
    placeOrder: async (accountId, lines) =>
      (await client.mutate({ mutation: PLACE_ORDER, variables: { accountId, lines }, errorPolicy: 'none' })).data.placeOrder,
  });
  const products = createProductsView(mustFind('#products', HTMLElement), {
    adjustStock: (id, delta) => client.mutate({ mutation: ADJUST_STOCK, variables: { id, delta } }),
    addToCart: (id) => cart.add(id),
  });
  const accounts = createAccountsView(mustFind('#accounts', HTMLElement));

  const storefront = client.watchQuery({
    query: STOREFRONT,
    variables: { productIds: catalogue.productIds, accountIds: catalogue.accountIds },
    notifyOnNetworkStatusChange: true,
  });
  // A mutation's answer, normalised into Apollo's cache, re-renders the page too; only a read sets the time.
  let reading = true;
  storefront.subscribe((result) => {
    if (result.dataState === 'complete') {
      products.show(catalogue.productIds, result.data.products);
      accounts.show(catalogue.accountIds, result.data.accounts);
      cart.show(result.data.products, result.data.accounts);
    }
    if (result.error) {
      reading = false;
      status.textContent = describeError(result.error);
      status.dataset['state'] = 'error';
    } else if (result.networkStatus === NetworkStatus.ready) {
      if (!reading) return;
      reading = false;
      status.textContent = `read at ${formatTime(new Date())}`;
      status.dataset['state'] = 'ready';
    } else {
      reading = true;
      status.textContent = 'reading\u2026';
      status.dataset['state'] = 'loading';
    }
  });
  // Refetching asks the server again; Apollo's own cache would answer from this window's memory.
  mustFind('#refresh', HTMLButtonElement).addEventListener('click', () => void storefront.refetch().catch(() => {}));
}

main().catch((err: unknown) => {
  const status = document.querySelector('#status');
  if (status) {
    status.textContent = `the page could not start: ${err instanceof Error ? err.message : String(err)}`;
    status.setAttribute('data-state', 'error');
  }
});
