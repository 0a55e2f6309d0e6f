import type { Knex } from 'knex';
import { category } from '../entities/category.js';
import { productCategories } from '../entities/product-categories.js';
import type { ChangeScope } from './change-scope.js';
import { quote } from './list-sql.js';
import { rowsOf } from './rows.js';

/** The statements behind `categorize` (services/categories.ts); lists are read generically (list-sql.ts). */

const { table, sides } = productCategories;
const productColumn = quote((sides['product'] as { column: string }).column);
const categoryColumn = quote((sides['category'] as { column: string }).column);

/** Which of `ids` are categories, locked for share: none can be deleted while it is being joined. */
export async function existingCategories(trx: Knex.Transaction, ids: readonly string[]): Promise<Set<string>> {
  const result = await trx.raw(
    `select ${quote(category.key.column)}::text as id from ${quote(category.table)} where ${quote(category.key.column)} = any(?::${category.key.sqlType}[]) order by 1 for share`,
    [[...ids]],
  );
  return new Set(rowsOf(result).map((r) => String(r['id'])));
}

/** Makes the product's categories exactly `categoryIds` in one statement; returns the join rows added or removed. */
export function replaceProductCategories(scope: ChangeScope, productId: string, categoryIds: readonly string[]): Promise<Record<string, unknown>[]> {
  return scope.changeLinks(productCategories, [
    scope.trx.raw(`delete from ${quote(table)} where ${productColumn} = ? and not (${categoryColumn} = any(?::${category.key.sqlType}[])) returning *`, [productId, [...categoryIds]]),
    scope.trx.raw(
      `insert into ${quote(table)} (${productColumn}, ${categoryColumn}) select ?, c from unnest(?::${category.key.sqlType}[]) as c on conflict do nothing returning *`,
      [productId, [...categoryIds]],
    ),
  ]);
}
