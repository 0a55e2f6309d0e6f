import { product, type ProductRow } from '../entities/product.js';
import type { ChangeScope } from './change-scope.js';
import { columnList } from './entity-sql.js';

/** The product statements behind the business rules (services/products.ts); reads by id and sku are generic. */

export interface ProductChanges {
  readonly sku?: string;
  readonly name?: string;
  readonly priceCents?: number;
}

const COLUMNS = columnList(product);

/** Applies `changes` to one (locked) row. */
export async function updateProductFields(scope: ChangeScope, id: string, changes: ProductChanges): Promise<ProductRow | undefined> {
  const [row] = await scope.change(
    product,
    'update',
    scope.trx.raw(
      `update products set
         sku = coalesce(?, sku), name = coalesce(?, name), price_cents = coalesce(?, price_cents),
         version = version + 1, updated_at = now()
       where id = ? returning ${COLUMNS}`,
      [changes.sku ?? null, changes.name ?? null, changes.priceCents ?? null, id],
    ),
  );
  return row;
}

/** Adds `delta` to one row's stock unless it would go below 0; undefined when it did not apply. */
export async function addStockIfEnough(scope: ChangeScope, id: string, delta: number): Promise<ProductRow | undefined> {
  const [row] = await scope.change(
    product,
    'update',
    scope.trx.raw(
      `update products set stock = stock + ?, version = version + 1, updated_at = now()
       where id = ? and stock + ? >= 0 returning ${COLUMNS}`,
      [delta, id, delta],
    ),
  );
  return row;
}

/** Deletes the row; returns what it was, or undefined if there was none. */
export async function deleteProduct(scope: ChangeScope, id: string): Promise<ProductRow | undefined> {
  const [row] = await scope.change(product, 'delete', scope.trx.raw(`delete from products where id = ? returning ${COLUMNS}`, [id]));
  return row;
}
