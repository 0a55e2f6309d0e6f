import type { Knex } from 'knex';
import { newId } from '../../src/ids.js';
import { uniqueSku } from './app.js';

/** Inserts products straight into the database (no cache involved); returns their ids. */
export async function insertProducts(knex: Knex, count: number, stock = 100): Promise<string[]> {
  const rows = Array.from({ length: count }, (_, i) => ({
    id: newId(),
    sku: uniqueSku('BULK'),
    name: `Bulk product ${i}`,
    price_cents: 100 + i,
    stock,
    version: 1,
  }));
  for (let i = 0; i < rows.length; i += 1000) await knex('products').insert(rows.slice(i, i + 1000));
  return rows.map((r) => r.id);
}

export async function dbVersions(knex: Knex, table: 'products' | 'accounts', ids: readonly string[]): Promise<Map<string, number>> {
  const rows = (await knex(table).select('id', 'version').whereIn('id', ids)) as { id: string; version: number }[];
  return new Map(rows.map((r) => [r.id, Number(r.version)]));
}
