import { defineEntity, int, json, timestamp, uuid, type RowOf } from './define.js';

/** Most lines one order may have. */
export const MAX_ORDER_LINES = 100;

/** One line of an order, as stored in `orders.lines` and served as `OrderLine`. */
export interface OrderLineRow {
  readonly productId: string;
  readonly quantity: number;
  /** The product's price when the order was placed. */
  readonly unitPriceCents: number;
}

/**
 * A placed order. Its lines live in the order's own row (a jsonb column): an
 * order is read whole, and never changes once placed, so one envelope holds it all.
 */
export const order = defineEntity({
  type: 'Order',
  table: 'orders',
  columns: {
    id: uuid(),
    accountId: uuid(),
    lines: json<readonly OrderLineRow[]>({ maxItems: MAX_ORDER_LINES }),
    totalCents: int(),
    version: int(),
    createdAt: timestamp(),
  },
  roots: { one: 'order', many: 'orders' },
  relations: [
    { on: 'Order', field: 'account', to: 'Account', by: 'accountId' },
    { on: 'OrderLine', field: 'product', to: 'Product', by: 'productId' },
  ],
});

export type OrderRow = RowOf<typeof order>;
