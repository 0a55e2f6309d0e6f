import type { ApolloClient, ObservableQuery, OperationVariables } from '@apollo/client';
import { CATALOGUE_PATH, type Catalogue } from '../shared/catalogue.js';
import { createAccountsView } from './accounts-view.js';
import { createCartView } from './cart-view.js';
import { createCategoryFilter } from './category-filter.js';
import { createClient } from './client.js';
import { createDebugPanel } from './debug-panel.js';
import { mustFind } from './dom.js';
import {
  ADJUST_STOCK,
  CATEGORIZE,
  CATEGORY_PAGE,
  CATEGORY_PRODUCTS,
  HISTORY_PAGE,
  ORDER_HISTORY,
  PLACE_ORDER,
  STOREFRONT,
  type CategoryProductsData,
  type OrderHistoryData,
  type StorefrontData,
} from './operations.js';
import { createOrdersView } from './orders-view.js';
import { createProductsView } from './products-view.js';
import { createReadStatus } from './read-status.js';
import './style.css';

/** A query the page watches, and how to stop watching it. */
interface Watched<TData, TVariables extends OperationVariables> {
  readonly query: ObservableQuery<TData, TVariables>;
  stop(): void;
}

async function main(): Promise<void> {
  const response = await fetch(CATALOGUE_PATH);
  if (!response.ok) throw new Error(`${CATALOGUE_PATH} answered ${response.status}`);
  const catalogue = (await response.json()) as Catalogue;

  const reads = createReadStatus(mustFind('#status', HTMLElement));
  const debugPanel = createDebugPanel(mustFind('#debug', HTMLElement));
  const client = createClient(catalogue.graphqlUrl ?? '/graphql', debugPanel.add);

  /**
   * Watches a query under its operation's name (for the status line). `onData` gets every complete result,
   * from the network or from Apollo's cache (a mutation's answer normalised into it); it may run before
   * this returns.
   */
  const watch = <TData, TVariables extends OperationVariables>(
    name: string,
    options: ApolloClient.WatchQueryOptions<TData, TVariables>,
    onData: (data: TData) => void,
  ): Watched<TData, TVariables> => {
    const query = client.watchQuery(options);
    const subscription = query.subscribe((result) => {
      reads.update(name, result);
      if (result.dataState === 'complete') onData(result.data);
    });
    return {
      query,
      stop: () => {
        subscription.unsubscribe();
        reads.forget(name);
      },
    };
  };

  // What the queries last answered; the views are drawn from these.
  let storefront: StorefrontData | undefined;
  // The filter: a category's slug, or undefined for the whole catalogue. It is the page's state, not the
  // query's, so a refetch (Refresh, focus) reads the same category again.
  let selected: string | undefined;
  let category: Watched<CategoryProductsData, { slug: string; first: number }> | undefined;
  let categoryPage: CategoryProductsData | undefined;
  let historyAccount = catalogue.accountIds[0] ?? '';
  let historyPage: OrderHistoryData | undefined;
  let loadingMore = false;

  const cart = createCartView(mustFind('#cart', HTMLElement), {
    // No refetch, no cache update function: Apollo normalises the result's products, account and the
    // account's first page of orders into the page. errorPolicy 'none' (the default, said here so the type
    // knows): a refusal rejects, so `data` is there.
    placeOrder: async (accountId, lines) =>
      (await client.mutate({ mutation: PLACE_ORDER, variables: { accountId, lines, historyFirst: HISTORY_PAGE }, errorPolicy: 'none' })).data
        .placeOrder,
  });
  const products = createProductsView(mustFind('#product-table', HTMLElement), {
    adjustStock: (id, delta) => client.mutate({ mutation: ADJUST_STOCK, variables: { id, delta } }),
    addToCart: (id) => cart.add(id),
    categorize: async (productId, categoryIds) => {
      await client.mutate({ mutation: CATEGORIZE, variables: { productId, categoryIds } });
      // The answer holds the product's categories, not the pages of those it joined or left: read the shown one again.
      await category?.query.refetch();
    },
  });
  const accounts = createAccountsView(mustFind('#accounts', HTMLElement));
  const productsSection = mustFind('#products', HTMLElement);
  const filter = createCategoryFilter(mustFind('#category-filter', HTMLElement), { onSelect: (slug) => select(slug) });
  const orders = createOrdersView(mustFind('#orders', HTMLElement), {
    onAccount: (accountId) => showHistory(accountId),
    onMore: () => void more(),
  });

  const render = (): void => {
    if (storefront === undefined) return;
    const { categories } = storefront;
    const page = selected === undefined ? undefined : categoryPage?.categoryBySlug;
    if (selected === undefined) {
      products.show(catalogue.productIds, storefront.products, categories);
      filter.show(categories, undefined, { slug: undefined, totalCount: catalogue.productIds.length });
      productsSection.dataset['filter'] = 'all';
    } else if (categoryPage !== undefined) {
      const nodes = page?.products.nodes ?? [];
      products.show(
        nodes.map((p) => p.id),
        nodes,
        categories,
      );
      filter.show(categories, selected, { slug: selected, totalCount: page?.products.totalCount ?? 0 });
      productsSection.dataset['filter'] = selected;
    } else {
      // The category's first answer is on its way: the table keeps what it showed until then.
      filter.show(categories, selected, undefined);
    }
    accounts.show(catalogue.accountIds, storefront.accounts);
    // The cart prices what it can see: the catalogue's products and the shown category's.
    cart.show([...storefront.products, ...(page?.products.nodes ?? [])], storefront.accounts);
    orders.showAccounts(storefront.accounts, historyAccount);
  };
  const renderOrders = (): void =>
    orders.show(historyAccount, historyPage === undefined ? undefined : (historyPage.account?.orders ?? null), loadingMore);

  watch(
    'Storefront',
    {
      query: STOREFRONT,
      variables: { productIds: catalogue.productIds, categoryIds: catalogue.categoryIds, accountIds: catalogue.accountIds },
      notifyOnNetworkStatusChange: true,
    },
    (data) => {
      storefront = data;
      render();
    },
  );

  // cache-and-network: choosing a category or an account shows what this window holds at once, and reads it again.
  const select = (slug: string | undefined): void => {
    if (slug === selected) return;
    category?.stop();
    category = undefined;
    categoryPage = undefined;
    selected = slug;
    if (slug !== undefined) {
      category = watch(
        'CategoryProducts',
        { query: CATEGORY_PRODUCTS, variables: { slug, first: CATEGORY_PAGE }, fetchPolicy: 'cache-and-network', nextFetchPolicy: 'cache-first' },
        (data) => {
          categoryPage = data;
          render();
        },
      );
    }
    render();
  };

  const watchHistory = (accountId: string): Watched<OrderHistoryData, { accountId: string; first: number; cursor?: string | null }> =>
    watch(
      'OrderHistory',
      {
        query: ORDER_HISTORY,
        variables: { accountId, first: HISTORY_PAGE },
        fetchPolicy: 'cache-and-network',
        nextFetchPolicy: 'cache-first',
        notifyOnNetworkStatusChange: true,
      },
      (data) => {
        historyPage = data;
        renderOrders();
      },
    );
  let history = watchHistory(historyAccount);
  const showHistory = (accountId: string): void => {
    if (accountId === historyAccount) return;
    history.stop();
    historyAccount = accountId;
    historyPage = undefined;
    loadingMore = false;
    renderOrders();
    history = watchHistory(accountId);
  };
  // The page after the last one shown; Apollo appends it to Account.orders (relayStylePagination, client.ts).
  const more = async (): Promise<void> => {
    const cursor = historyPage?.account?.orders.pageInfo.endCursor;
    if (cursor === undefined || cursor === null || loadingMore) return;
    loadingMore = true;
    renderOrders();
    try {
      await history.query.fetchMore({ variables: { cursor } });
    } catch {
      // The status line shows the error (the query's result carries it).
    } finally {
      loadingMore = false;
      renderOrders();
    }
  };

  // Refetching asks the server again, for every query the page shows; Apollo's own cache would answer from
  // this window's memory.
  mustFind('#refresh', HTMLButtonElement).addEventListener('click', () => void client.refetchQueries({ include: 'active' }).catch(() => {}));
}

main().catch((err: unknown) => {
  const status = document.querySelector('#status');
  if (status) {
    status.textContent = `the page could not start: ${err instanceof Error ? err.message : String(err)}`;
    status.setAttribute('data-state', 'error');
  }
});
