import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { dataOf, startTestApp, type TestApp } from '../helpers/app.js';
import { History, seededRandom } from '../helpers/history.js';
import { dbVersions, insertProducts } from '../helpers/products.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe('concurrent writers and readers on the same rows', () => {
  it.each([1, 2, 3])('never serves a version older than one acknowledged before the read (seed %i)', async (seed) => {
    const random = seededRandom(seed);
    const { knex } = app.running.deps.db;
    const ids = await insertProducts(knex, 8, 1_000_000);
    const pick = () => ids[Math.floor(random() * ids.length)] as string;
    const history = new History();
    // Stop after enough writes rather than after a fixed time: the machine may be busy.
    const hardDeadline = Date.now() + 20_000;
    let writes = 0;
    const going = () => writes < 90 && Date.now() < hardDeadline;

    const writer = async () => {
      while (going()) {
        writes++;
        const id = pick();
        if (random() < 0.7) {
          const delta = random() < 0.5 ? -1 : 1;
          await history.record(
            'write',
            id,
            () => app.gql<{ adjustStock: { version: number } }>(`mutation($id: ID!, $d: Int!) { adjustStock(id: $id, delta: $d) { version } }`, { id, d: delta }),
            (r) => dataOf(r).adjustStock.version,
          );
        } else {
          const other = pick();
          await history.record(
            'write',
            id,
            () =>
              app.gql<{ adjustStocks: { id: string; version: number }[] }>(`mutation($c: [StockChange!]!) { adjustStocks(changes: $c) { id version } }`, {
                c: other === id ? [{ id, delta: 1 }] : [{ id, delta: 1 }, { id: other, delta: -1 }],
              }),
            (r) => dataOf(r).adjustStocks.find((p) => p.id === id)?.version,
          );
        }
      }
    };
    const reader = async () => {
      while (going()) {
        if (random() < 0.5) {
          const id = pick();
          await history.record(
            'read',
            id,
            () => app.gql<{ product: { version: number } | null }>(`query($id: ID!) { product(id: $id) { version } }`, { id }),
            (r) => dataOf(r).product?.version,
          );
        } else {
          // A batch read, recorded per id with the batch's start and end.
          const start = performance.now();
          const res = dataOf(await app.gql<{ products: { id: string; version: number }[] }>(`query($ids: [ID!]!) { products(ids: $ids) { id version } }`, { ids }));
          const end = performance.now();
          for (const p of res.products) history.ops.push({ kind: 'read', id: p.id, start, end, version: p.version });
        }
        // Now and then a key vanishes (eviction, restart): the next reader must refill it correctly.
        if (random() < 0.05) await app.redis.del(`${app.prefix}:{Product:${pick()}}`);
      }
    };
    await Promise.all([writer(), writer(), writer(), reader(), reader(), reader(), reader()]);
    await app.running.deps.cache.idle();

    expect(history.ops.filter((o) => o.kind === 'write').length).toBeGreaterThan(20);
    expect(history.staleReads()).toEqual([]);
    const db = await dbVersions(knex, 'products', ids);
    const cached = await app.redis.mget(ids.map((id) => `${app.prefix}:{Product:${id}}`));
    ids.forEach((id, i) => {
      const raw = cached[i];
      // Present keys must match the database exactly; a key deleted by the chaos above may be absent.
      if (raw !== null && raw !== undefined) expect(parseEnvelope(raw)?.v, id).toBe(db.get(id));
    });
  });
});

describe('many writers on one hot row', () => {
  it('acknowledges every write, each with its own version, from two instances at once', async () => {
    // A second instance on the same cache, as in a fleet: its writes race this one's in Postgres.
    const other = await startTestApp({ CACHE_PREFIX: app.prefix });
    try {
      const [id] = await insertProducts(app.running.deps.db.knex, 1, 1_000_000);
      const writers = 32;
      const each = 8;
      const versions: number[] = [];
      const failures: string[] = [];
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < each; i++) {
            const res = await (w % 2 === 0 ? app : other).gql<{ adjustStock: { version: number } }>(
              'mutation($id: ID!) { adjustStock(id: $id, delta: 1) { version } }',
              { id },
            );
            if (res.errors !== undefined) failures.push(String(res.errors[0]?.extensions?.['code']));
            else versions.push(dataOf(res).adjustStock.version);
          }
        }),
      );
      expect(failures).toEqual([]);
      // Inserted at version 1: the writes took versions 2.. once each, and none of them was lost.
      expect(versions.sort((a, b) => a - b)).toEqual(Array.from({ length: writers * each }, (_, i) => i + 2));
      const row = await app.running.deps.db.knex('products').where({ id }).first('stock', 'version');
      expect(row).toEqual({ stock: 1_000_000 + writers * each, version: writers * each + 1 });
      await Promise.all([app.running.deps.cache.idle(), other.running.deps.cache.idle()]);
      const served = dataOf(await app.gql<{ product: { version: number } }>('query($id: ID!) { product(id: $id) { version } }', { id }));
      expect(served.product.version).toBe(writers * each + 1);
    } finally {
      await other.running.shutdown();
    }
  });
});
