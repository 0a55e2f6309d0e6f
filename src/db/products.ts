import { product, type ProductRow } from '../entities/product.js';
import type { StatementScope } from './change-scope.js';
import { addDelta, deleteStatement, updateStatement } from './entity-sql.js';

/**
 * The product statements behind the business rules (services/products.ts),
 * built from the definition (entities/product.ts) like every generic one; reads
 * by id and sku are generic.
 */

export interface ProductChanges {
  readonly sku?: string;
  readonly name?: string;
  readonly priceCents?: number;
}

/** Applies `changes` to one (locked) row. */
export async function updateProductFields(scope: StatementScope, id: string, changes: ProductChanges): Promise<ProductRow | undefined> {
  const touch = ['updatedAt'];
  const statement = updateStatement(scope.db, product, id, { ...changes }, { touch });
  const [row] = await scope.change(product, 'update', statement, { assigns: [...Object.keys(changes), ...touch] });
  return row;
}

/** Adds `delta` to one row's stock unless it would go below 0; undefined when it did not apply. */
export function addStockIfEnough(scope: StatementScope, id: string, delta: number): Promise<ProductRow | undefined> {
  return addDelta(scope, product, 'stock', id, delta, { atLeast: 0, touch: ['updatedAt'] });
}

/** Deletes the row; returns what it was, or undefined if there was none. */
export async function deleteProduct(scope: StatementScope, id: string): Promise<ProductRow | undefined> {
  const [row] = await scope.change(product, 'delete', deleteStatement(scope.db, product, id));
  return row;
}
