import { gql, type TypedDocumentNode } from '@apollo/client';

export interface Product {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly stock: number;
  readonly version: number;
  readonly updatedAt: string;
}

export interface Account {
  readonly id: string;
  readonly owner: string;
  readonly balanceCents: number;
  readonly version: number;
}

/** Everything the page shows, in one request: two batched reads, served by the cache when warm. */
export const STOREFRONT: TypedDocumentNode<
  { products: (Product | null)[]; accounts: (Account | null)[] },
  { productIds: readonly string[]; accountIds: readonly string[] }
> = gql`
  query Storefront($productIds: [ID!]!, $accountIds: [ID!]!) {
    products(ids: $productIds) {
      id
      sku
      name
      priceCents
      stock
      version
      updatedAt
    }
    accounts(ids: $accountIds) {
      id
      owner
      balanceCents
      version
    }
  }
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
  readonly account: Pick<Account, 'id' | 'owner' | 'balanceCents' | 'version'>;
  readonly lines: readonly {
    readonly quantity: number;
    readonly unitPriceCents: number;
    readonly product: Pick<Product, 'id' | 'sku' | 'name' | 'stock' | 'version' | 'updatedAt'>;
  }[];
}

/**
 * Selects every product's and the account's new stock, balance and version: Apollo
 * normalises them into Product:<id> and Account:<id>, so the product list and the
 * accounts show the order without reading them again.
 */
export const PLACE_ORDER: TypedDocumentNode<
  { placeOrder: PlacedOrder },
  { accountId: string; lines: readonly OrderLineInput[] }
> = gql`
  mutation PlaceOrder($accountId: ID!, $lines: [OrderLineInput!]!) {
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
`;
