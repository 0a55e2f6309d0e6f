import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { updateStatement } from '../../src/db/entity-sql.js';
import { RecordingScope } from '../../src/db/recording-scope.js';
import { LISTS } from '../../src/entities/index.js';
import { product } from '../../src/entities/product.js';
import { dataOf, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';
import { countSql } from '../helpers/counting.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { REDIS_URL } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Mutations that are one statement run without BEGIN and COMMIT: the statement
 * commits on its own with its outbox row and list versions. These tests check
 * that this costs no guarantee: the write is still recorded in the outbox, and
 * when its cache write fails (Redis cut off by a TCP proxy that forwards
 * nothing) it is acknowledged, read from Postgres meanwhile, and replayed by
 * the repair worker once Redis is reachable again.
 */

let app: TestApp;
let scratch: ScratchDatabase;
let proxy: TcpProxy;
const appName = `fg-one-statement-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  // An outbox of this file's own: no other file's server adds rows to it or repairs them.
  scratch = await createScratchDatabase('onestatement');
  const redis = new URL(REDIS_URL);
  proxy = await TcpProxy.start(Number(redis.port || 6379));
  app = await startTestApp({
    DATABASE_URL: scratch.urlFor(appName),
    REDIS_URL: `redis://127.0.0.1:${proxy.port}${redis.pathname}`,
    // A cut-off Redis fails a write-through quickly, and the repair worker looks often.
    REDIS_COMMAND_TIMEOUT_MS: '200',
    CACHE_WRITE_RETRIES: '0',
    OUTBOX_REPAIR_INTERVAL_MS: '100',
    OUTBOX_LISTEN: 'false',
    CONSISTENCY_SAMPLE_INTERVAL_MS: '0',
  });
});
afterAll(async () => {
  proxy?.reset();
  await app?.close();
  await proxy?.close();
  await scratch?.drop();
});

const CREATE = `mutation($input: NewProduct!) { createProduct(input: $input) { id version } }`;
const ADJUST = `mutation($id: ID!, $delta: Int!) { adjustStock(id: $id, delta: $delta) { id stock version } }`;
const READ = `query($id: ID!) { product(id: $id) { id stock version } }`;

const knex = () => app.running.deps.db.knex;
const cachedVersion = async (key: string): Promise<number | undefined> => {
  const raw = await app.redis.get(`${app.prefix}:${key}`);
  return raw === null ? undefined : parseEnvelope(raw)?.v;
};
const outboxRows = async (entityId: string): Promise<{ version: number }[]> =>
  (await knex()('cache_outbox').where({ entity_id: entityId }).select('version')).map((r: { version: number | string }) => ({ version: Number(r.version) }));
const catalogVersion = async (): Promise<number> =>
  Number(((await knex()('cache_list_versions').where({ list: 'Query.productCatalog' }).first('version')) as { version: number | string } | undefined)?.version ?? 0);

async function createProduct(): Promise<string> {
  const { createProduct: created } = dataOf(await app.gql<{ createProduct: { id: string; version: number } }>(CREATE, { input: { sku: uniqueSku('ONE'), name: `One ${randomBytes(3).toString('hex')}`, priceCents: 100, stock: 10 } }));
  return created.id;
}

describe('one-statement mutations', () => {
  it('adjustStock sends one statement (no BEGIN or COMMIT), which records its outbox row, cleared once the cache has it', async () => {
    const id = await createProduct();
    await waitFor('the create to be cleared from the outbox', () => outboxRows(id), (rows) => rows.length === 0);
    // Everything but the background bookkeeping of the outbox (the clearer's deletes, the repair's scans).
    const sql = countSql(knex(), (text) => !/^delete from cache_outbox where id = any|^select id, entity, entity_id|^select \(select count/.test(text));
    try {
      const { adjustStock } = dataOf(await app.gql<{ adjustStock: { version: number; stock: number } }>(ADJUST, { id, delta: -3 }));
      expect(adjustStock).toMatchObject({ version: 2, stock: 7 });
      expect(sql.statements).toHaveLength(1);
      expect(sql.statements[0]).toMatch(/insert into cache_outbox/);
      expect(sql.statements.some((s) => /^(begin|commit)/i.test(s.trim()))).toBe(false);
    } finally {
      sql.stop();
    }
    expect(await cachedVersion(`{Product:${id}}`)).toBe(2);
    await waitFor('the outbox row to be cleared', () => outboxRows(id), (rows) => rows.length === 0);
  });

  it('a refused adjustStock changes and records nothing', async () => {
    const id = await createProduct();
    await waitFor('the create to be cleared from the outbox', () => outboxRows(id), (rows) => rows.length === 0);
    const refused = await app.gql(ADJUST, { id, delta: -11 });
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('INSUFFICIENT_STOCK');
    expect(await outboxRows(id)).toEqual([]);
    expect((await knex()('products').where({ id }).first('version', 'stock')) as unknown).toEqual({ version: 1, stock: 10 });
  });

  it('when the cache write fails, the autocommitted write is acknowledged, served from Postgres, and replayed from its outbox row once Redis is back', async () => {
    const id = await createProduct();
    expect(dataOf(await app.gql<{ product: { version: number } }>(READ, { id })).product.version).toBe(1);
    await waitFor('the create to be cleared from the outbox', () => outboxRows(id), (rows) => rows.length === 0);
    expect(await cachedVersion(`{Product:${id}}`)).toBe(1);
    const catalogBefore = await catalogVersion();

    proxy.block(); // Redis is cut off: every command of this server times out
    try {
      const { adjustStock } = dataOf(await app.gql<{ adjustStock: { version: number; stock: number } }>(ADJUST, { id, delta: 5 }));
      expect(adjustStock).toMatchObject({ version: 2, stock: 15 });
      // A list-changing one-statement write too: a new product is a new member of the catalog.
      const added = await createProduct();
      expect(await catalogVersion()).toBe(catalogBefore + 1);

      // Acknowledged while the cache still holds version 1: the outbox row is what makes it repairable...
      expect(await outboxRows(id)).toEqual([{ version: 2 }]);
      expect(await outboxRows(added)).toEqual([{ version: 1 }]);
      expect(await cachedVersion(`{Product:${id}}`)).toBe(1);
      // ...and this instance reads the key from Postgres meanwhile.
      expect(dataOf(await app.gql<{ product: { version: number } }>(READ, { id })).product.version).toBe(2);
    } finally {
      proxy.reset(); // Redis is reachable again; the client reconnects
    }

    await waitFor('the repair to land version 2', () => cachedVersion(`{Product:${id}}`), (v) => v === 2);
    await waitFor('the outbox row to be replayed and deleted', () => outboxRows(id), (rows) => rows.length === 0);
    const catalog = await catalogVersion();
    await waitFor('the catalog list to reach its committed version', () => cachedVersion('{Product}.productCatalog'), (v) => v === catalog);
    expect(dataOf(await app.gql<{ product: { version: number; stock: number } }>(READ, { id })).product).toMatchObject({ version: 2, stock: 15 });
  });

  it('an UPDATE that may move a list or a hint gets a transaction of its own; one that cannot is sent alone; a second change is refused', async () => {
    const id = await createProduct();
    await waitFor('the create to be cleared from the outbox', () => outboxRows(id), (rows) => rows.length === 0);
    const sql = countSql(knex(), (text) => !/^delete from cache_outbox where id = any|^select id, entity, entity_id|^select \(select count/.test(text));
    try {
      const catalogBefore = await catalogVersion();
      sql.reset();
      // The name orders the catalog: what the statement saw before it decides which lists it moved.
      const renaming = new RecordingScope({ autocommit: knex() }, { record: true, lists: LISTS });
      const [renamed] = await renaming.change(product, 'update', updateStatement(knex(), product, id, { name: `Renamed ${id}` }), { assigns: ['name'] });
      expect(renamed?.version).toBe(2);
      expect(sql.statements.map((s) => s.trim().toLowerCase().slice(0, 5))).toEqual(['begin', 'with ', 'commi']);
      expect([...renaming.lists.values()]).toEqual([{ list: 'Query.productCatalog', owner: '', version: catalogBefore + 1 }]);

      sql.reset();
      const restocking = new RecordingScope({ autocommit: knex() }, { record: true, lists: LISTS });
      await restocking.change(product, 'update', updateStatement(knex(), product, id, { stock: 1 }), { assigns: ['stock'] });
      expect(sql.statements).toHaveLength(1);
      expect(restocking.lists.size).toBe(0);
      await expect(restocking.change(product, 'update', updateStatement(knex(), product, id, { stock: 2 }), { assigns: ['stock'] })).rejects.toThrow(/second change statement/);
      expect(() => restocking.trx).toThrow(/no transaction/);
      // Written behind the write-through's back: the repair worker brings them to the cache.
      await waitFor('the repair to land version 3', () => cachedVersion(`{Product:${id}}`), (v) => v === 3);
    } finally {
      sql.stop();
    }
  });
});
