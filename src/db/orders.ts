import type { Knex } from 'knex';
import { order } from '../entities/order.js';
import { columnOf } from './entity-sql.js';
import { quote } from './list-sql.js';
import { prepared } from './prepared.js';
import { rowsOf } from './rows.js';

/** The order statements that are not generic (inserting an order is: entity-sql.ts insertRow), built from the definition. */

// Served by the GIN index on the lines column (migration 004).
const ORDERED = `select exists (select 1 from ${quote(order.table)} where ${quote(columnOf(order, 'lines').column)} @> ?::jsonb) as ordered`;

/** Whether any order has a line for this product (a product that was ordered cannot be deleted). */
export async function isProductOrdered(trx: Knex.Transaction, productId: string): Promise<boolean> {
  const result = await prepared(trx.raw(ORDERED, [JSON.stringify([{ productId }])]), ORDERED);
  return rowsOf(result)[0]?.['ordered'] === true;
}
