import { requireSku } from '../validation.js';
import { defineEntity, int, text, timestamp, uuid, type RowOf } from './define.js';

/** A product for sale; `sku` is unique and served by `productBySku` through a cached hint. */
export const product = defineEntity({
  type: 'Product',
  table: 'products',
  columns: {
    id: uuid(),
    sku: text(),
    name: text(),
    priceCents: int(),
    stock: int(),
    version: int(),
    updatedAt: timestamp(),
  },
  roots: { one: 'product', many: 'products' },
  lookups: { sku: { root: 'productBySku', validate: requireSku } },
});

export type ProductRow = RowOf<typeof product>;
