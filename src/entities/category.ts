import { requireSlug } from '../validation.js';
import { asc, defineEntity, int, text, through, timestamp, uuid, type RowOf } from './define.js';
import { productCategories } from './product-categories.js';

/** A category of products; `slug` is unique and served by `categoryBySlug`. */
export const category = defineEntity({
  type: 'Category',
  table: 'categories',
  columns: {
    id: uuid(),
    name: text(),
    slug: text(),
    version: int(),
    updatedAt: timestamp(),
  },
  roots: { one: 'category', many: 'categories' },
  lookups: { slug: { root: 'categoryBySlug', validate: requireSlug } },
  lists: {
    products: through(productCategories, { from: 'category', to: 'product', order: [asc('name')] }),
  },
  // Generic, by declaration; the table keeps the slug's and the name's rules (migration 008).
  mutations: { update: 'updateCategory', delete: 'deleteCategory', touch: ['updatedAt'] },
});

export type CategoryRow = RowOf<typeof category>;
