import { addDeltas, insertRow } from '../db/entity-sql.js';
import { account } from '../entities/account.js';
import { MAX_ORDER_LINES, order, type OrderLineRow, type OrderRow } from '../entities/order.js';
import { product } from '../entities/product.js';
import { badInput, insufficientFunds, insufficientStock, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { requireId, requirePositive } from '../validation.js';
import type { Writes } from './write-through.js';

const MAX_INT = 2_147_483_647;

export interface OrderLineInput {
  readonly productId: string;
  readonly quantity: number;
}

/**
 * Places an order in ONE transaction: locks the products (in id order) and the
 * account, takes each line's quantity from its product's stock (version + 1
 * each), debits the account by the total at the current prices (version + 1)
 * and inserts the order (version 1). Every changed envelope (the products, the
 * account, the order) then goes to the cache in one round trip. Any error
 * leaves everything as it was.
 */
export function placeOrder(writes: Writes, rawAccountId: string, rawLines: readonly OrderLineInput[]): Promise<OrderRow> {
  const accountId = requireId(rawAccountId, 'accountId');
  const wanted = validateLines(rawLines);
  return writes.commit(async (scope) => {
    // Products before the account, each set in id order: every transaction that locks both does it in this order.
    const products = new Map((await scope.lock(product, wanted.map((l) => l.productId))).map((p) => [p.id, p]));
    const [buyer] = await scope.lock(account, [accountId]);
    if (buyer === undefined) throw notFound('Account', accountId);
    const lines: OrderLineRow[] = [];
    let totalCents = 0;
    for (const line of wanted) {
      const p = products.get(line.productId);
      if (p === undefined) throw notFound('Product', line.productId);
      if (p.stock < line.quantity) throw insufficientStock(p.id, p.stock, -line.quantity);
      lines.push({ productId: p.id, quantity: line.quantity, unitPriceCents: p.priceCents });
      totalCents += p.priceCents * line.quantity;
    }
    if (totalCents > MAX_INT) throw badInput(`The order's total (${totalCents} cents) is larger than ${MAX_INT} cents`, 'lines');
    if (buyer.balanceCents < totalCents) throw insufficientFunds(accountId, buyer.balanceCents, totalCents);
    await addDeltas(scope, product, 'stock', wanted.map((l) => ({ id: l.productId, delta: -l.quantity })), { touch: 'updatedAt' });
    await addDeltas(scope, account, 'balanceCents', [{ id: accountId, delta: -totalCents }], { touch: 'updatedAt' });
    return insertRow(scope, order, { id: newId(), accountId, lines, totalCents });
  });
}

function validateLines(lines: readonly OrderLineInput[]): { productId: string; quantity: number }[] {
  if (lines.length === 0) throw badInput('lines must not be empty', 'lines');
  if (lines.length > MAX_ORDER_LINES) throw badInput(`lines has ${lines.length} entries; at most ${MAX_ORDER_LINES} are allowed`, 'lines');
  const seen = new Map<string, number>();
  return lines.map((line, i) => {
    const productId = requireId(line.productId, `lines[${i}].productId`);
    const quantity = requirePositive(line.quantity, `lines[${i}].quantity`);
    const first = seen.get(productId);
    if (first !== undefined) {
      throw badInput(`lines[${i}].productId names product ${productId} a second time (first in lines[${first}]); add the quantities instead`, `lines[${i}].productId`);
    }
    seen.set(productId, i);
    return { productId, quantity };
  });
}
