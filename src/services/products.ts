import { addDeltas, findByIds, insertRow } from '../db/entity-sql.js';
import { isProductOrdered } from '../db/orders.js';
import { addStockIfEnough, deleteProduct as deleteRow, updateProductFields, type ProductChanges } from '../db/products.js';
import { product, type ProductRow } from '../entities/product.js';
import { alreadyExists, badInput, inUse, insufficientStock, notFound, versionConflict } from '../errors.js';
import { newId } from '../ids.js';
import { MAX_LIST_LENGTH, requireId, requireName, requireNonNegative, requireNonZero, requireSku } from '../validation.js';
import type { Writes } from './write-through.js';

/**
 * The product write path: validate, change the rows in one transaction
 * (version + 1 each), and let the write-through take the new envelopes to the
 * cache after the commit.
 */

export interface NewProductInput {
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly stock: number;
}

/** GraphQL input: an absent field is undefined, an explicit null is null. */
export interface ProductPatchInput {
  readonly sku?: string | null;
  readonly name?: string | null;
  readonly priceCents?: number | null;
}

export interface StockChangeInput {
  readonly id: string;
  readonly delta: number;
}

export function createProduct(writes: Writes, input: NewProductInput): Promise<ProductRow> {
  const values = {
    id: newId(),
    sku: requireSku(input.sku, 'input.sku'),
    name: requireName(input.name, 'input.name'),
    priceCents: requireNonNegative(input.priceCents, 'input.priceCents'),
    stock: requireNonNegative(input.stock, 'input.stock'),
  };
  return writes.commitStatement((scope) => insertRow(scope, product, values), { onUniqueViolation: () => alreadyExists('Product', 'sku', values.sku) });
}

export function updateProduct(writes: Writes, rawId: string, patch: ProductPatchInput, expectedVersion?: number | null): Promise<ProductRow> {
  const id = requireId(rawId);
  const changes = validatePatch(patch);
  if (expectedVersion !== undefined && expectedVersion !== null) requireNonNegative(expectedVersion, 'expectedVersion');
  return writes.commit(
    async (scope) => {
      // Locked first: the old sku's hint must be dropped, and the row must not move meanwhile.
      const [before] = await scope.lock(product, [id]);
      if (before === undefined) throw notFound('Product', id);
      if (expectedVersion !== undefined && expectedVersion !== null && before.version !== expectedVersion) {
        throw versionConflict('Product', id, expectedVersion, before.version);
      }
      return (await updateProductFields(scope, id, changes)) as ProductRow;
    },
    { onUniqueViolation: () => alreadyExists('Product', 'sku', changes.sku ?? '') },
  );
}

export function adjustStock(writes: Writes, rawId: string, delta: number): Promise<ProductRow> {
  const id = requireId(rawId);
  requireNonZero(delta, 'delta');
  // One statement: no transaction around it. A refusal reads the row afterwards to say why.
  return writes.commitStatement(async (scope) => {
    const row = await addStockIfEnough(scope, id, delta);
    if (row) return row;
    const [current] = await findByIds(scope.db, product, [id]);
    if (current === undefined) throw notFound('Product', id);
    throw insufficientStock(id, current.stock, delta);
  });
}

/** All or nothing: every row is locked, checked and changed in one transaction. */
export function adjustStocks(writes: Writes, changes: readonly StockChangeInput[]): Promise<ProductRow[]> {
  if (changes.length === 0) throw badInput('changes must not be empty', 'changes');
  if (changes.length > MAX_LIST_LENGTH) {
    throw badInput(`changes has ${changes.length} entries; at most ${MAX_LIST_LENGTH} are allowed`, 'changes');
  }
  const wanted = changes.map((c, i) => ({
    id: requireId(c.id, `changes[${i}].id`),
    delta: requireNonZero(c.delta, `changes[${i}].delta`),
  }));
  const seen = new Set<string>();
  for (const [i, c] of wanted.entries()) {
    if (seen.has(c.id)) throw badInput(`changes[${i}].id names product ${c.id} a second time`, `changes[${i}].id`);
    seen.add(c.id);
  }
  return writes.commit(async (scope) => {
    const locked = new Map((await scope.lock(product, wanted.map((c) => c.id))).map((r) => [r.id, r.stock]));
    for (const c of wanted) {
      const stock = locked.get(c.id);
      if (stock === undefined) throw notFound('Product', c.id);
      if (stock + c.delta < 0) throw insufficientStock(c.id, stock, c.delta);
    }
    const byId = new Map((await addDeltas(scope, product, 'stock', wanted, { touch: 'updatedAt' })).map((r) => [r.id, r]));
    return wanted.map((c) => byId.get(c.id) as ProductRow);
  });
}

/**
 * Leaves a tombstone one version above the deleted row, so no slow reader can
 * resurrect it. A product that was ordered stays: its orders still name it.
 */
export function deleteProduct(writes: Writes, rawId: string): Promise<boolean> {
  const id = requireId(rawId);
  return writes.commit(async (scope) => {
    // Locked before the check: an order placed meanwhile locks the product too, so it is seen.
    const [current] = await scope.lock(product, [id]);
    if (current === undefined) return false;
    if (await isProductOrdered(scope.trx, id)) throw inUse('Product', id, 'it appears in orders');
    return (await deleteRow(scope, id)) !== undefined;
  });
}

function validatePatch(patch: ProductPatchInput): ProductChanges {
  const changes: { sku?: string; name?: string; priceCents?: number } = {};
  for (const field of ['sku', 'name', 'priceCents'] as const) {
    if (patch[field] === null) throw badInput(`patch.${field} cannot be null; leave it out to keep it`, `patch.${field}`);
  }
  if (patch.sku !== undefined && patch.sku !== null) changes.sku = requireSku(patch.sku, 'patch.sku');
  if (patch.name !== undefined && patch.name !== null) changes.name = requireName(patch.name, 'patch.name');
  if (patch.priceCents !== undefined && patch.priceCents !== null) {
    changes.priceCents = requireNonNegative(patch.priceCents, 'patch.priceCents');
  }
  if (Object.keys(changes).length === 0) throw badInput('patch must change at least one field', 'patch');
  return changes;
}
