import { defineJoinTable } from './define.js';

/** Which products are in which categories: the join table of `Product.categories` and `Category.products`. */
export const productCategories = defineJoinTable({
  table: 'product_categories',
  sides: {
    product: { column: 'product_id', type: 'Product' },
    category: { column: 'category_id', type: 'Category' },
  },
});
