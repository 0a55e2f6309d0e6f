import type { KeySpace } from '../cache/keys.js';
import { PRODUCT, type ProductChanges, type ProductRow, type ProductsRepository } from '../db/products-repository.js';
import { alreadyExists, badInput, insufficientStock, notFound, versionConflict } from '../errors.js';
import { newId } from '../ids.js';
import {
  MAX_LIST_LENGTH,
  requireId,
  requireName,
  requireNonNegative,
  requireNonZero,
  requireSku,
} from './validation.js';
import type { Committed, EntityChange, WriteThrough } from './write-through.js';

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

const changed = (row: ProductRow): EntityChange<ProductRow> => ({ type: PRODUCT, id: row.id, version: row.version, data: row });

/**
 * The product write path: validate, change the row in a transaction (version + 1),
 * and only after the commit write the new envelope through to the cache (see WriteThrough).
 */
export class ProductsService {
  constructor(
    private readonly repo: ProductsRepository,
    private readonly writes: WriteThrough,
    private readonly keys: KeySpace,
  ) {}

  skuKey(sku: string): string {
    return this.keys.lookup(PRODUCT, 'sku', sku);
  }

  async create(input: NewProductInput): Promise<ProductRow> {
    const row = {
      id: newId(),
      sku: requireSku(input.sku, 'input.sku'),
      name: requireName(input.name, 'input.name'),
      priceCents: requireNonNegative(input.priceCents, 'input.priceCents'),
      stock: requireNonNegative(input.stock, 'input.stock'),
    };
    return this.writes.commit(async (scope): Promise<Committed<ProductRow>> => {
      const created = await this.repo.insert(scope, row);
      return { result: created, changes: [changed(created)], invalidate: [this.skuKey(created.sku)] };
    }, () => alreadyExists(PRODUCT, 'sku', row.sku));
  }

  async update(rawId: string, patch: ProductPatchInput, expectedVersion?: number | null): Promise<ProductRow> {
    const id = requireId(rawId);
    const changes = validatePatch(patch);
    if (expectedVersion !== undefined && expectedVersion !== null) requireNonNegative(expectedVersion, 'expectedVersion');
    return this.writes.commit(async (scope): Promise<Committed<ProductRow>> => {
      const result = await this.repo.update(scope, id, changes, expectedVersion ?? undefined);
      if ('kind' in result) {
        if (result.kind === 'not-found') throw notFound(PRODUCT, id);
        throw versionConflict(PRODUCT, id, expectedVersion as number, result.version);
      }
      const { before, after } = result;
      const stale = before.sku === after.sku ? [] : [this.skuKey(before.sku), this.skuKey(after.sku)];
      return { result: after, changes: [changed(after)], invalidate: stale };
    }, () => alreadyExists(PRODUCT, 'sku', changes.sku ?? ''));
  }

  async adjustStock(rawId: string, delta: number): Promise<ProductRow> {
    const id = requireId(rawId);
    requireNonZero(delta, 'delta');
    return this.writes.commit(async (scope): Promise<Committed<ProductRow>> => {
      const row = await this.repo.addStockIfEnough(scope, id, delta);
      if (row) return { result: row, changes: [changed(row)] };
      const stock = await this.repo.stockOf(scope, id);
      if (stock === undefined) throw notFound(PRODUCT, id);
      throw insufficientStock(id, stock, delta);
    });
  }

  /** All or nothing: every row is locked, checked and changed in one transaction. */
  async adjustStocks(changes: readonly StockChangeInput[]): Promise<ProductRow[]> {
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
    return this.writes.commit(async (scope): Promise<Committed<ProductRow[]>> => {
      const locked = new Map((await this.repo.lockStock(scope, wanted.map((c) => c.id))).map((r) => [r.id, r.stock]));
      for (const c of wanted) {
        const stock = locked.get(c.id);
        if (stock === undefined) throw notFound(PRODUCT, c.id);
        if (stock + c.delta < 0) throw insufficientStock(c.id, stock, c.delta);
      }
      const updated = await this.repo.addStock(scope, wanted);
      const byId = new Map(updated.map((r) => [r.id, r]));
      return { result: wanted.map((c) => byId.get(c.id) as ProductRow), changes: updated.map(changed) };
    });
  }

  /** Leaves a tombstone one version above the deleted row, so no slow reader can resurrect it. */
  async delete(rawId: string): Promise<boolean> {
    const id = requireId(rawId);
    return this.writes.commit(async (scope): Promise<Committed<boolean>> => {
      const deleted = await this.repo.delete(scope, id);
      if (!deleted) return { result: false, changes: [] };
      return {
        result: true,
        changes: [{ type: PRODUCT, id, version: deleted.version + 1, data: null }],
        invalidate: [this.skuKey(deleted.sku)],
      };
    });
  }
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
