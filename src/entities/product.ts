import { requireSku } from '../validation.js';
import { asc, asList, defineEntity, int, text, through, timestamp, uuid, type RowOf } from './define.js';
import { productCategories } from './product-categories.js';

/** Most categories one product may be in (`categorize` refuses more). */
export const MAX_PRODUCT_CATEGORIES = 50;

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
  roots: { one: 'product', many: 'products', lists: { productCatalog: { order: [asc('name')] } } },
  lookups: { sku: { root: 'productBySku', validate: requireSku } },
  lists: {
    categories: through(productCategories, { from: 'product', to: 'category', order: [asc('name')], serve: asList(MAX_PRODUCT_CATEGORIES) }),
  },
});

export type ProductRow = RowOf<typeof product>;
