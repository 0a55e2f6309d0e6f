import type { ListBounds } from './plugins/cost-limit.js';
import { MAX_ORDER_LINES } from './services/orders.js';

/** `categorize` gives a product at most this many categories (schema/category.graphql). */
export const MAX_PRODUCT_CATEGORIES = 50;

/** A connection's `first` is 0 to this (schema/*.graphql); more is BAD_USER_INPUT. */
export const MAX_PAGE_SIZE = 100;

/**
 * How long the schema's lists may be where no argument says so, for the cost
 * limit (plugins/cost-limit.ts), which refuses to start on a schema with a list
 * field missing here that takes no list argument. Each bound is one the write
 * path keeps: an order is placed with at most MAX_ORDER_LINES lines and never
 * changes, `categorize` sets at most MAX_PRODUCT_CATEGORIES categories. They are
 * the to-many relations of the entity definitions (src/entities/).
 */
export const LIST_BOUNDS: ListBounds = {
  fields: new Map([
    ['Order.lines', MAX_ORDER_LINES],
    ['Product.categories', MAX_PRODUCT_CATEGORIES],
  ]),
  maxPage: MAX_PAGE_SIZE,
};
