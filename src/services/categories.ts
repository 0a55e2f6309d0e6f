import { insertRow } from '../db/entity-sql.js';
import { existingCategories, replaceProductCategories } from '../db/product-categories.js';
import { category, type CategoryRow } from '../entities/category.js';
import { MAX_PRODUCT_CATEGORIES, product, type ProductRow } from '../entities/product.js';
import { alreadyExists, badInput, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { requireId, requireName, requireSlug } from '../validation.js';
import type { Writes } from './write-through.js';

/** The category write path; see products.ts for the order of steps. */

export interface NewCategoryInput {
  readonly name: string;
  readonly slug: string;
}

export function createCategory(writes: Writes, input: NewCategoryInput): Promise<CategoryRow> {
  const values = { id: newId(), name: requireName(input.name, 'input.name'), slug: requireSlug(input.slug, 'input.slug') };
  return writes.commitStatement((scope) => insertRow(scope, category, values), { onUniqueViolation: () => alreadyExists('Category', 'slug', values.slug) });
}

/**
 * Replaces the product's categories with `categoryIds`, in one statement of
 * join-table changes: the lists of both sides change with it (the product's
 * categories, and the products of every category it joins or leaves). The
 * product's own row does not change, so its version stays.
 */
export function categorize(writes: Writes, rawProductId: string, rawCategoryIds: readonly string[]): Promise<ProductRow> {
  const productId = requireId(rawProductId, 'productId');
  if (rawCategoryIds.length > MAX_PRODUCT_CATEGORIES) {
    throw badInput(`categoryIds has ${rawCategoryIds.length} entries; at most ${MAX_PRODUCT_CATEGORIES} are allowed`, 'categoryIds');
  }
  const seen = new Map<string, number>();
  const categoryIds = rawCategoryIds.map((raw, i) => {
    const id = requireId(raw, `categoryIds[${i}]`);
    const first = seen.get(id);
    if (first !== undefined) throw badInput(`categoryIds[${i}] names category ${id} a second time (first in categoryIds[${first}])`, `categoryIds[${i}]`);
    seen.set(id, i);
    return id;
  });
  return writes.commit(async (scope) => {
    // Locked: a product deleted meanwhile would otherwise be given categories it can no longer have.
    const [row] = await scope.lock(product, [productId]);
    if (row === undefined) throw notFound('Product', productId);
    const existing = await existingCategories(scope.trx, categoryIds);
    const missing = categoryIds.find((id) => !existing.has(id));
    if (missing !== undefined) throw notFound('Category', missing);
    await replaceProductCategories(scope, productId, categoryIds);
    return row;
  });
}
