import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { dataOf, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';

/**
 * The embedded database (PGlite, Postgres 18 in this process) gets the same
 * triggers. Nothing outside the process can connect to it, so "another writer"
 * here is a transaction that says it is not the API, as a migration does.
 */

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ DATABASE_URL: '', DATA_DIR: 'memory://' });
}, 120_000);
afterAll(async () => app?.close());

const outboxRows = async (): Promise<number> =>
  Number((await app.running.deps.db.knex.raw(`select count(*)::int as n from cache_outbox where recorded_by = 'trigger'`)).rows[0].n);

describe('bypass writes on the embedded database', () => {
  it('the API writes record no trigger rows; a write by another writer lands in the cache at version + 1 within 1 s', async () => {
    expect(app.running.deps.db.kind).toBe('pglite');
    const { createProduct } = dataOf(
      await app.gql<{ createProduct: { id: string } }>(`mutation($s: String!) { createProduct(input: { sku: $s, name: "Embedded", priceCents: 5, stock: 9 }) { id } }`, {
        s: uniqueSku('PGL'),
      }),
    );
    const id = createProduct.id;
    dataOf(await app.gql(`mutation($id: ID!) { adjustStock(id: $id, delta: -1) { version } }`, { id }));
    expect(await outboxRows()).toBe(0);

    await app.running.deps.db.knex.transaction(async (trx) => {
      await trx.raw(`select set_config('freshgraph.writer', 'maintenance', true)`);
      await trx.raw('update products set stock = 3 where id = ?', [id]);
    });
    const committed = performance.now();
    let seen: unknown;
    let cached: number | undefined;
    while (performance.now() - committed <= 1000) {
      seen = dataOf(await app.gql<{ product: unknown }>(`query($id: ID!) { product(id: $id) { stock version } }`, { id })).product;
      const raw = await app.redis.get(`${app.prefix}:{Product:${id}}`);
      cached = raw === null ? undefined : parseEnvelope(raw)?.v;
      if (cached === 3 && JSON.stringify(seen) === JSON.stringify({ stock: 3, version: 3 })) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect({ seen, cached }).toEqual({ seen: { stock: 3, version: 3 }, cached: 3 });
    expect(await outboxRows()).toBe(0);
  });
});
