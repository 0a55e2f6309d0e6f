import type { Knex } from 'knex';
import { rowsOf } from './rows.js';

/** The order statements that are not generic: inserting an order is (entity-sql.ts insertRow). */

/** Whether any order has a line for this product (a product that was ordered cannot be deleted). */
export async function isProductOrdered(trx: Knex.Transaction, productId: string): Promise<boolean> {
  // Served by the GIN index on orders.lines (migration 004).
  const result = await trx.raw(`select exists (select 1 from orders where lines @> ?::jsonb) as ordered`, [
    JSON.stringify([{ productId }]),
  ]);
  return rowsOf(result)[0]?.['ordered'] === true;
}
