import { gql, type TypedDocumentNode } from '@apollo/client';

export interface CategoryRef {
  readonly id: string;
  readonly name: string;
  readonly slug: string;
}

export interface Product {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly stock: number;
  readonly version: number;
  readonly updatedAt: string;
  readonly categories: readonly CategoryRef[];
}

export interface Account {
  readonly id: string;
  readonly owner: string;
  readonly balanceCents: number;
  readonly version: number;
}

// One selection of a product's row, for the catalogue and for a category's page alike.
const PRODUCT_ROW = gql`
  fragment ProductRow on Product {
    id
    sku
    name
    priceCents
    stock
    version
    updatedAt
    categories {
      id
      name
      slug
    }
  }
`;

/**
 * The catalogue's products (each with its categories), the categories to filter by
 * and the accounts, in one request of batched reads, served by the cache when warm.
 */
export interface StorefrontData {
  readonly products: readonly (Product | null)[];
  readonly categories: readonly (CategoryRef | null)[];
  readonly accounts: readonly (Account | null)[];
}

export const STOREFRONT: TypedDocumentNode<
  StorefrontData,
  { productIds: readonly string[]; categoryIds: readonly string[]; accountIds: readonly string[] }
> = gql`
  query Storefront($productIds: [ID!]!, $categoryIds: [ID!]!, $accountIds: [ID!]!) {
    products(ids: $productIds) {
      ...ProductRow
    }
    categories(ids: $categoryIds) {
      id
      name
      slug
    }
    accounts(ids: $accountIds) {
      id
      owner
      balanceCents
      version
    }
  }
  ${PRODUCT_ROW}
`;

/** How many products a category's page shows: all of the demo's, well within the server's maximum (100). */
export const CATEGORY_PAGE = 50;

export interface CategoryPage extends CategoryRef {
  readonly products: { readonly totalCount: number; readonly nodes: readonly Product[] };
}

export interface CategoryProductsData {
  readonly categoryBySlug: CategoryPage | null;
}

/** The category filter: the first products of one category, by name, read from the category's cached list. */
export const CATEGORY_PRODUCTS: TypedDocumentNode<CategoryProductsData, { slug: string; first: number }> = gql`
  query CategoryProducts($slug: String!, $first: Int!) {
    categoryBySlug(slug: $slug) {
      id
      name
      slug
      products(first: $first) {
        totalCount
        nodes {
          ...ProductRow
        }
      }
    }
  }
  ${PRODUCT_ROW}
`;

/** Replaces the product's categories; the answer updates Product:<id>.categories in Apollo's cache. */
export const CATEGORIZE: TypedDocumentNode<
  { categorize: Pick<Product, 'id' | 'version' | 'updatedAt' | 'categories'> },
  { productId: string; categoryIds: readonly string[] }
> = gql`
  mutation Categorize($productId: ID!, $categoryIds: [ID!]!) {
    categorize(productId: $productId, categoryIds: $categoryIds) {
      id
      version
      updatedAt
      categories {
        id
        name
        slug
      }
    }
  }
`;

/** Orders per page of the history. */
export const HISTORY_PAGE = 5;

export interface OrderSummary {
  readonly id: string;
  readonly totalCents: number;
  readonly createdAt: string;
  readonly lines: readonly {
    readonly quantity: number;
    readonly unitPriceCents: number;
    readonly product: { readonly id: string; readonly name: string };
  }[];
}

export interface OrderHistoryPage {
  readonly totalCount: number;
  readonly edges: readonly { readonly cursor: string; readonly node: OrderSummary }[];
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
}

// The history's page, selected alike by the history and by placeOrder's answer, so that the answer fills the history.
// The lines select what PlaceOrder's own lines do: Apollo stores them inside Order:<id> (they have no id), whole.
const ORDER_HISTORY_PAGE = gql`
  fragment OrderHistoryPage on OrderConnection {
    totalCount
    edges {
      cursor
      node {
        id
        totalCents
        createdAt
        lines {
          quantity
          unitPriceCents
          product {
            id
            name
          }
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
`;

/**
 * One account's orders, newest first, a page at a time: `cursor` is the last
 * page's endCursor (absent for the first page). Apollo appends the pages
 * (relayStylePagination on Account.orders, client.ts).
 */
export interface OrderHistoryData {
  readonly account: { readonly id: string; readonly orders: OrderHistoryPage } | null;
}

export const ORDER_HISTORY: TypedDocumentNode<OrderHistoryData, { accountId: string; first: number; cursor?: string | null }> = gql`
  query OrderHistory($accountId: ID!, $first: Int!, $cursor: String) {
    account(id: $accountId) {
      id
      orders(first: $first, after: $cursor) {
        ...OrderHistoryPage
      }
    }
  }
  ${ORDER_HISTORY_PAGE}
`;

/** Returns the product's id, so Apollo updates the cached Product:<id> and the list re-renders. */
export const ADJUST_STOCK: TypedDocumentNode<
  { adjustStock: Pick<Product, 'id' | 'stock' | 'version' | 'updatedAt'> },
  { id: string; delta: number }
> = gql`
  mutation AdjustStock($id: ID!, $delta: Int!) {
    adjustStock(id: $id, delta: $delta) {
      id
      stock
      version
      updatedAt
    }
  }
`;

export interface OrderLineInput {
  readonly productId: string;
  readonly quantity: number;
}

export interface PlacedOrder {
  readonly id: string;
  readonly totalCents: number;
  readonly version: number;
  readonly createdAt: string;
  readonly account: Pick<Account, 'id' | 'owner' | 'balanceCents' | 'version'> & { readonly orders: OrderHistoryPage };
  readonly lines: readonly {
    readonly quantity: number;
    readonly unitPriceCents: number;
    readonly product: Pick<Product, 'id' | 'sku' | 'name' | 'stock' | 'version' | 'updatedAt'>;
  }[];
}

/**
 * Selects every product's and the account's new stock, balance and version, and the
 * first page of the account's orders (read after the commit, so the new order is at
 * its head): Apollo normalises them into Product:<id> and Account:<id>, so the
 * product list, the accounts and the history show the order without reading again.
 */
export const PLACE_ORDER: TypedDocumentNode<
  { placeOrder: PlacedOrder },
  { accountId: string; lines: readonly OrderLineInput[]; historyFirst: number }
> = gql`
  mutation PlaceOrder($accountId: ID!, $lines: [OrderLineInput!]!, $historyFirst: Int!) {
    placeOrder(accountId: $accountId, lines: $lines) {
      id
      totalCents
      version
      createdAt
      account {
        id
        owner
        balanceCents
        version
        orders(first: $historyFirst) {
          ...OrderHistoryPage
        }
      }
      lines {
        quantity
        unitPriceCents
        product {
          id
          sku
          name
          stock
          version
          updatedAt
        }
      }
    }
  }
  ${ORDER_HISTORY_PAGE}
`;
