import type { Knex } from 'knex';
import type { ChangeScope } from './change-scope.js';
import { rowsOf, toInt, toIso } from './rows.js';

/** The entity's name in cache keys and in the schema. */
export const PRODUCT = 'Product';

/** A product as stored, and as cached: every field the GraphQL type exposes. */
export interface ProductRow {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly stock: number;
  readonly version: number;
  /** ISO-8601. */
  readonly updatedAt: string;
}

export interface NewProductRow {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly stock: number;
}

export interface ProductChanges {
  readonly sku?: string;
  readonly name?: string;
  readonly priceCents?: number;
}

/** The product's state when an update did not apply. */
export type UpdateMiss = { readonly kind: 'not-found' } | { readonly kind: 'version-conflict'; readonly version: number };

export interface LockedStock {
  readonly id: string;
  readonly stock: number;
}

const COLUMNS = `id, sku, name, price_cents, stock, version, updated_at`;

function toRow(r: Record<string, unknown>): ProductRow {
  return {
    id: String(r['id']),
    sku: String(r['sku']),
    name: String(r['name']),
    priceCents: toInt(r['price_cents']),
    stock: toInt(r['stock']),
    version: toInt(r['version']),
    updatedAt: toIso(r['updated_at']),
  };
}

/** All SQL about products. Every change bumps `version` by exactly 1 and returns the new row. */
export class ProductsRepository {
  constructor(private readonly knex: Knex) {}

  /** `db` may be a transaction, to read inside it. */
  async findByIds(ids: readonly string[], db: Knex | Knex.Transaction = this.knex): Promise<ProductRow[]> {
    if (ids.length === 0) return [];
    const result = await db.raw(`select ${COLUMNS} from products where id = any(?::uuid[])`, [[...ids]]);
    return rowsOf(result).map(toRow);
  }

  async findBySkus(skus: readonly string[]): Promise<ProductRow[]> {
    if (skus.length === 0) return [];
    const result = await this.knex.raw(`select ${COLUMNS} from products where sku = any(?::text[])`, [[...skus]]);
    return rowsOf(result).map(toRow);
  }

  async insert(scope: ChangeScope, row: NewProductRow): Promise<ProductRow> {
    const rows = await scope.change(
      PRODUCT,
      this.knex.raw(
        `insert into products (id, sku, name, price_cents, stock, version, updated_at)
         values (?, ?, ?, ?, ?, 1, now()) returning ${COLUMNS}`,
        [row.id, row.sku, row.name, row.priceCents, row.stock],
      ),
    );
    return toRow(rows[0] as Record<string, unknown>);
  }

  /** Applies `changes`; with `expectedVersion`, only if the stored version matches. */
  async update(
    scope: ChangeScope,
    id: string,
    changes: ProductChanges,
    expectedVersion?: number,
  ): Promise<{ readonly before: ProductRow; readonly after: ProductRow } | UpdateMiss> {
    // Lock first: the old sku is needed to invalidate its lookup key, and the row must not move meanwhile.
    const locked = rowsOf(await scope.trx.raw(`select ${COLUMNS} from products where id = ? for update`, [id]));
    if (locked.length === 0) return { kind: 'not-found' };
    const before = toRow(locked[0] as Record<string, unknown>);
    if (expectedVersion !== undefined && before.version !== expectedVersion) {
      return { kind: 'version-conflict', version: before.version };
    }
    const rows = await scope.change(
      PRODUCT,
      this.knex.raw(
        `update products set
           sku = coalesce(?, sku), name = coalesce(?, name), price_cents = coalesce(?, price_cents),
           version = version + 1, updated_at = now()
         where id = ? returning ${COLUMNS}`,
        [changes.sku ?? null, changes.name ?? null, changes.priceCents ?? null, id],
      ),
    );
    return { before, after: toRow(rows[0] as Record<string, unknown>) };
  }

  /** Adds `delta` to one row's stock unless it would go below 0; undefined when it did not apply. */
  async addStockIfEnough(scope: ChangeScope, id: string, delta: number): Promise<ProductRow | undefined> {
    const rows = await scope.change(
      PRODUCT,
      this.knex.raw(
        `update products set stock = stock + ?, version = version + 1, updated_at = now()
         where id = ? and stock + ? >= 0 returning ${COLUMNS}`,
        [delta, id, delta],
      ),
    );
    return rows.length === 0 ? undefined : toRow(rows[0] as Record<string, unknown>);
  }

  /** The current stock, or undefined when there is no such product. */
  async stockOf(scope: ChangeScope, id: string): Promise<number | undefined> {
    const rows = rowsOf(await scope.trx.raw(`select stock from products where id = ?`, [id]));
    return rows.length === 0 ? undefined : toInt((rows[0] as Record<string, unknown>)['stock']);
  }

  /** Locks the rows in id order (so concurrent batches cannot deadlock) and returns their stock. */
  async lockStock(scope: ChangeScope, ids: readonly string[]): Promise<LockedStock[]> {
    const result = await scope.trx.raw(
      `select id, stock from products where id = any(?::uuid[]) order by id for update`,
      [[...ids]],
    );
    return rowsOf(result).map((r) => ({ id: String(r['id']), stock: toInt(r['stock']) }));
  }

  /** Adds each delta to its locked row in one statement. */
  async addStock(scope: ChangeScope, changes: readonly { id: string; delta: number }[]): Promise<ProductRow[]> {
    const rows = await scope.change(
      PRODUCT,
      this.knex.raw(
        `update products p set stock = p.stock + c.delta, version = p.version + 1, updated_at = now()
         from unnest(?::uuid[], ?::int[]) as c(id, delta)
         where p.id = c.id
         returning p.id, p.sku, p.name, p.price_cents, p.stock, p.version, p.updated_at`,
        [changes.map((c) => c.id), changes.map((c) => c.delta)],
      ),
    );
    return rows.map(toRow);
  }

  /** Deletes the row; returns what it was, or undefined if there was none. */
  async delete(scope: ChangeScope, id: string): Promise<ProductRow | undefined> {
    const rows = await scope.change(PRODUCT, this.knex.raw(`delete from products where id = ? returning ${COLUMNS}`, [id]), true);
    return rows.length === 0 ? undefined : toRow(rows[0] as Record<string, unknown>);
  }
}
