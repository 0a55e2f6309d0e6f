import type { Knex } from 'knex';
import { newId } from '../ids.js';

export interface SeedOptions {
  readonly products: number;
  readonly accounts: number;
  /** Called after each batch with (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

const BATCH = 5000;

/**
 * Demo data with predictable skus (`DEMO-0000001`...). Rows that already exist
 * are kept, so running it twice, or with a larger count, only adds what is missing.
 */
export async function seed(knex: Knex, options: SeedOptions): Promise<{ products: number; accounts: number }> {
  const total = options.products + options.accounts;
  let done = 0;
  let products = 0;
  for (let start = 0; start < options.products; start += BATCH) {
    const n = Math.min(BATCH, options.products - start);
    const ids = Array.from({ length: n }, () => newId());
    const skus = Array.from({ length: n }, (_, i) => `DEMO-${String(start + i + 1).padStart(7, '0')}`);
    const names = skus.map((_, i) => `Demo product ${start + i + 1}`);
    const prices = skus.map((_, i) => 100 + ((start + i) * 37) % 99_900);
    const stocks = skus.map((_, i) => 1_000 + ((start + i) * 13) % 9_000);
    const result = await knex.raw(
      `insert into products (id, sku, name, price_cents, stock)
       select * from unnest(?::uuid[], ?::text[], ?::text[], ?::int[], ?::int[])
       on conflict (sku) do nothing`,
      [ids, skus, names, prices, stocks],
    );
    products += (result as { rowCount?: number; affectedRows?: number }).rowCount ?? (result as { affectedRows?: number }).affectedRows ?? 0;
    done += n;
    options.onProgress?.(done, total);
  }
  // Accounts have no natural key: top up to the requested count.
  const [{ count }] = (await knex('accounts').count({ count: '*' })) as [{ count: string | number }];
  const missing = Math.max(0, options.accounts - Number(count));
  for (let start = 0; start < missing; start += BATCH) {
    const n = Math.min(BATCH, missing - start);
    await knex.raw(
      `insert into accounts (id, owner, balance_cents)
       select * from unnest(?::uuid[], ?::text[], ?::int[])`,
      [Array.from({ length: n }, () => newId()), Array.from({ length: n }, (_, i) => `Demo owner ${Number(count) + start + i + 1}`), Array.from({ length: n }, () => 1_000_000)],
    );
    done += n;
    options.onProgress?.(done, total);
  }
  options.onProgress?.(total, total);
  return { products, accounts: missing };
}
