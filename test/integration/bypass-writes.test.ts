import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { openDatabase } from '../../src/db/database.js';
import { asOtherWriter, installOutboxTriggers } from '../../src/db/outbox-triggers.js';
import { defineEntity, int, text, uuid } from '../../src/entities/define.js';
import { ENTITIES, LISTS } from '../../src/entities/index.js';
import { newId } from '../../src/ids.js';
import { dataOf, startTestApp, uniqueSku, type TestApp } from '../helpers/app.js';
import { insertProducts } from '../helpers/products.js';
import { rawFetch, sampleValue } from '../helpers/http.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Writes that bypass the API: another program's UPDATE, INSERT or DELETE on an
 * entity table reaches the cache within the 1 s the issue promises, and the
 * API's own writes still record exactly one outbox row per change.
 *
 * The database is this file's own: every instance on a database repairs every
 * trigger-recorded row into its own key prefix, so another file's server would
 * take this file's rows.
 */

const PROMISED_MS = 1000;

let scratch: ScratchDatabase;
/** "Another program": a plain connection of its own, not the server's pool, with no writer setting. */
let external: pg.Client;

beforeAll(async () => {
  scratch = await createScratchDatabase('bypass');
  external = new pg.Client({ connectionString: scratch.url, application_name: 'fg-bypass-external' });
  await external.connect();
});
afterAll(async () => {
  await external?.end();
  await scratch?.drop();
});

interface Seen {
  readonly stock: number;
  readonly version: number;
}

async function apiRead(app: TestApp, id: string): Promise<Seen | null> {
  const { product } = dataOf(await app.gql<{ product: Seen | null }>(`query($id: ID!) { product(id: $id) { stock version } }`, { id }));
  return product;
}

/** The version the cache (Redis itself, not the API) holds for the product: 0 for "no such row", undefined when absent. */
async function cachedVersion(app: TestApp, id: string): Promise<number | undefined> {
  const raw = await app.redis.get(`${app.prefix}:{Product:${id}}`);
  return raw === null ? undefined : parseEnvelope(raw)?.v;
}

/**
 * Polls `probe` until it is true or `deadlineMs` has passed since `since`;
 * resolves to whether it became true in time. A probe that started before the
 * deadline counts.
 */
async function by(since: number, deadlineMs: number, probe: () => Promise<boolean>): Promise<boolean> {
  for (;;) {
    const started = performance.now();
    if (started - since > deadlineMs) return false;
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function createProduct(app: TestApp, stock = 10): Promise<string> {
  const { createProduct: p } = dataOf(
    await app.gql<{ createProduct: { id: string } }>(`mutation($s: String!, $n: Int!) { createProduct(input: { sku: $s, name: "Bypass", priceCents: 100, stock: $n }) { id } }`, {
      s: uniqueSku('BYP'),
      n: stock,
    }),
  );
  return p.id;
}

/** Runs `sql` as another program and resolves when it has committed; returns when that was. */
async function externally(sql: string, params: unknown[] = []): Promise<number> {
  await external.query(sql, params);
  return performance.now();
}

/** Both the API and the cache itself show `expected` (null: no row, and a tombstone or absence in Redis). */
async function landed(app: TestApp, id: string, expected: Seen | null, tombstone?: number): Promise<boolean> {
  const seen = await apiRead(app, id);
  if (JSON.stringify(seen) !== JSON.stringify(expected)) return false;
  const v = await cachedVersion(app, id);
  return expected === null ? v === tombstone : v === expected.version;
}

const listenerPids = async (applicationName: string): Promise<number[]> =>
  (
    await external.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and application_name = $1 and query ilike 'listen %'`,
      [applicationName],
    )
  ).rows.map((r) => r.pid);

describe('another program writes an entity table (listener and poll, the defaults)', () => {
  let app: TestApp;
  const appName = `fg-bypass-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    app = await startTestApp({ DATABASE_URL: scratch.urlFor(appName) });
  });
  afterAll(async () => app?.close());

  it('a direct UPDATE is served through the API, from the cache, within 1 s at version + 1', async () => {
    const id = await createProduct(app);
    expect(await apiRead(app, id)).toEqual({ stock: 10, version: 1 });
    expect(await cachedVersion(app, id)).toBe(1);
    const committed = await externally('update products set stock = 3 where id = $1', [id]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, { stock: 3, version: 2 }))).toBe(true);
  });

  it('records exactly one outbox row per changed row, inside the writer\'s own transaction', async () => {
    const ids = [await createProduct(app), await createProduct(app), await createProduct(app)];
    await external.query('begin');
    try {
      await external.query('update products set stock = stock + 1 where id = any($1::uuid[])', [ids]);
      const { rows } = await external.query<{ entity: string; version: number; recorded_by: string }>(
        // The API's rows of the creations may still wait for their batched delete: only the trigger's count here.
        `select entity, version, recorded_by from cache_outbox where entity_id = any($1::text[]) and recorded_by = 'trigger'`,
        [ids],
      );
      expect(rows).toEqual(ids.map(() => ({ entity: 'Product', version: 2, recorded_by: 'trigger' })));
    } finally {
      await external.query('commit');
    }
  });

  it('keeps a version the writer raised itself, and gives one it lowered or kept OLD.version + 1', async () => {
    const id = await createProduct(app);
    let committed = await externally('update products set stock = 4, version = 7 where id = $1', [id]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, { stock: 4, version: 7 }))).toBe(true);
    committed = await externally('update products set stock = 5, version = 2 where id = $1', [id]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, { stock: 5, version: 8 }))).toBe(true);
    committed = await externally('update products set stock = 6, version = version where id = $1', [id]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, { stock: 6, version: 9 }))).toBe(true);
  });

  it('an INSERT replaces a cached "no such row", and a DELETE leaves a tombstone at version + 1', async () => {
    const id = newId();
    expect(await apiRead(app, id)).toBeNull();
    expect(await cachedVersion(app, id)).toBe(0); // absence, cached
    let committed = await externally(`insert into products (id, sku, name, price_cents, stock) values ($1, $2, 'Inserted by psql', 250, 8)`, [id, uniqueSku('INS')]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, { stock: 8, version: 1 }))).toBe(true);

    committed = await externally('delete from products where id = $1', [id]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, null, 2))).toBe(true);
    const tombstone = parseEnvelope((await app.redis.get(`${app.prefix}:{Product:${id}}`)) as string);
    expect(tombstone).toMatchObject({ v: 2, data: null });
  });

  it('an INSERT of a sku that a lookup found missing is found by that lookup within 1 s (the repair drops the "no such value" hint)', async () => {
    const sku = uniqueSku('PSQL');
    const lookup = async () =>
      dataOf(await app.gql<{ productBySku: { id: string } | null }>('query($s: String!) { productBySku(sku: $s) { id } }', { s: sku })).productBySku;
    expect(await lookup()).toBeNull();
    await app.running.deps.cache.idle();
    expect(parseEnvelope((await app.redis.get(`${app.prefix}:{Product.sku:${sku}}`)) as string)).toMatchObject({ v: 0, data: null });
    const id = newId();
    const committed = await externally(`insert into products (id, sku, name, price_cents, stock) values ($1, $2, 'Looked up too early', 5, 5)`, [id, sku]);
    expect(await by(committed, PROMISED_MS, async () => (await lookup())?.id === id)).toBe(true);
  });

  it('an UPDATE that moves a row to another id tombstones the old id and caches the new one', async () => {
    const oldId = await createProduct(app);
    const newIdValue = newId();
    const committed = await externally('update products set id = $2 where id = $1', [oldId, newIdValue]);
    expect(await by(committed, PROMISED_MS, async () => (await landed(app, oldId, null, 2)) && (await landed(app, newIdValue, { stock: 10, version: 2 })))).toBe(true);
  });

  it('a multi-row UPDATE of 1,000 rows lands every one of them', async () => {
    const ids = await insertProducts(app.running.deps.db.knex, 1000, 100);
    // Warm: the cache holds version 1 of every row, as a busy system's would.
    for (let i = 0; i < ids.length; i += 500) {
      const { products } = dataOf(await app.gql<{ products: { version: number }[] }>(`query($ids: [ID!]!) { products(ids: $ids) { version } }`, { ids: ids.slice(i, i + 500) }));
      expect(products.every((p) => p.version === 1)).toBe(true);
    }
    await app.running.deps.cache.idle();
    const keys = ids.map((id) => `${app.prefix}:{Product:${id}}`);
    expect((await app.redis.mget(...keys)).every((raw) => raw !== null && parseEnvelope(raw)?.v === 1)).toBe(true);

    const committed = await externally('update products set stock = stock + 1 where id = any($1::uuid[])', [ids]);
    // Not a promise about time (that is the one-row case above): it must all land, in two batches of 500.
    const allLanded = await by(committed, 30_000, async () => (await app.redis.mget(...keys)).every((raw) => raw !== null && parseEnvelope(raw)?.v === 2));
    expect(allLanded).toBe(true);
    for (let i = 0; i < ids.length; i += 500) {
      const { products } = dataOf(await app.gql<{ products: Seen[] }>(`query($ids: [ID!]!) { products(ids: $ids) { stock version } }`, { ids: ids.slice(i, i + 500) }));
      expect(products).toEqual(ids.slice(i, i + 500).map(() => ({ stock: 101, version: 2 })));
    }
    const { rows } = await external.query<{ n: number }>('select count(*)::int as n from cache_outbox where entity_id = any($1::text[])', [ids]);
    expect(rows[0]?.n).toBe(0);
  });

  it('while its listening connection is terminated, a write still lands (the poll), and the listener comes back', async () => {
    const [pid] = await listenerPids(appName);
    expect(pid).toBeDefined();
    const id = await createProduct(app);
    expect(await apiRead(app, id)).toEqual({ stock: 10, version: 1 });

    // The notification of this write goes nowhere: the listener is gone, and comes back only after a pause.
    await external.query('select pg_terminate_backend($1)', [pid]);
    const committed = await externally('update products set stock = 2 where id = $1', [id]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, { stock: 2, version: 2 }))).toBe(true);

    expect(await by(performance.now(), 30_000, async () => (await listenerPids(appName)).some((p) => p !== pid))).toBe(true);
    expect(app.running.deps.outboxListener?.connected).toBe(true);
    const again = await externally('update products set stock = 1 where id = $1', [id]);
    expect(await by(again, PROMISED_MS, () => landed(app, id, { stock: 1, version: 3 }))).toBe(true);
  });

  it("the API's own mutations record exactly one outbox row per changed row and per changed list (the triggers stay out of their way)", async () => {
    const { knex } = app.running.deps.db;
    expect((await knex.raw('show freshgraph.writer')).rows).toEqual([{ 'freshgraph.writer': 'api' }]);
    const recorded = async (): Promise<number> => {
      const { rows } = await external.query<{ last_value: string; is_called: boolean }>('select last_value, is_called from cache_outbox_id_seq');
      const row = rows[0] as { last_value: string; is_called: boolean };
      return Number(row.last_value) - (row.is_called ? 0 : 1);
    };
    const rowsFor = async (mutation: string, variables: Record<string, unknown>): Promise<{ rows: number; data: Record<string, unknown> }> => {
      const before = await recorded();
      const data = dataOf(await app.gql(mutation, variables));
      return { rows: (await recorded()) - before, data };
    };

    const created = await rowsFor(`mutation($s: String!) { createProduct(input: { sku: $s, name: "One", priceCents: 10, stock: 50 }) { id version } }`, { s: uniqueSku('API') });
    const id = (created.data['createProduct'] as { id: string }).id;
    const other = await createProduct(app, 50);
    const spare = await createProduct(app, 50);
    // The product, and the catalog it joined.
    expect(created.rows).toBe(2);
    // A new name moves it in the catalog.
    expect((await rowsFor(`mutation($id: ID!) { updateProduct(id: $id, patch: { name: "Renamed" }) { version } }`, { id })).rows).toBe(2);
    expect((await rowsFor(`mutation($id: ID!) { updateProduct(id: $id, patch: { priceCents: 11 }) { version } }`, { id })).rows).toBe(1);
    expect((await rowsFor(`mutation($id: ID!) { adjustStock(id: $id, delta: -1) { version } }`, { id })).rows).toBe(1);
    const many = await rowsFor(`mutation($c: [StockChange!]!) { adjustStocks(changes: $c) { version } }`, {
      c: [id, other, spare].map((p) => ({ id: p, delta: 1 })),
    });
    expect(many.rows).toBe(3);
    const account = await rowsFor(`mutation { createAccount(owner: "Bypass", balanceCents: 100000) { id } }`, {});
    const payer = await rowsFor(`mutation { createAccount(owner: "Payer", balanceCents: 100000) { id } }`, {});
    expect([account.rows, payer.rows]).toEqual([1, 1]);
    const accountId = (account.data['createAccount'] as { id: string }).id;
    const payerId = (payer.data['createAccount'] as { id: string }).id;
    expect((await rowsFor(`mutation($a: ID!, $b: ID!) { transfer(fromId: $a, toId: $b, amountCents: 5) { from { version } } }`, { a: payerId, b: accountId })).rows).toBe(2);
    // Two products, the account, the order and the account's orders.
    const order = await rowsFor(`mutation($a: ID!, $l: [OrderLineInput!]!) { placeOrder(accountId: $a, lines: $l) { id version } }`, {
      a: accountId,
      l: [
        { productId: id, quantity: 2 },
        { productId: other, quantity: 1 },
      ],
    });
    expect(order.rows).toBe(5);
    // The product, and the catalog it left.
    expect((await rowsFor(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: spare })).rows).toBe(2);
    // And every version moved by exactly one per change.
    expect(await apiRead(app, id)).toEqual({ stock: 50 - 1 + 1 - 2, version: 6 });
  });
});

describe('only the poll (OUTBOX_LISTEN=false): every notification is missed', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ DATABASE_URL: scratch.url, OUTBOX_LISTEN: 'false' });
  });
  afterAll(async () => app?.close());

  it('a direct UPDATE still lands within 1 s: the repair worker claims rows recorded by a trigger without waiting for them to age', async () => {
    expect(app.running.deps.outboxListener).toBeUndefined();
    const id = await createProduct(app);
    expect(await apiRead(app, id)).toEqual({ stock: 10, version: 1 });
    const committed = await externally('update products set stock = 3 where id = $1', [id]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, { stock: 3, version: 2 }))).toBe(true);
  });
});

describe('only the notification (the poll every 10 minutes)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ DATABASE_URL: scratch.url, OUTBOX_REPAIR_INTERVAL_MS: '600000' });
  });
  afterAll(async () => app?.close());

  it('a direct UPDATE lands within 1 s: the NOTIFY wakes the repair worker', async () => {
    const id = await createProduct(app);
    expect(await apiRead(app, id)).toEqual({ stock: 10, version: 1 });
    const committed = await externally('update products set stock = 3 where id = $1', [id]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, { stock: 3, version: 2 }))).toBe(true);
  });
});

describe('outbox rows that no repair could apply', () => {
  let app: TestApp;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    app = await startTestApp(
      { DATABASE_URL: scratch.url, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
      { logDestination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } },
    );
  });
  afterAll(async () => app?.close());

  const insertRow = (entity: string, entityId: string, version: number, recordedBy: string) =>
    external.query('insert into cache_outbox (entity, entity_id, version, recorded_by) values ($1, $2, $3, $4) returning id', [entity, entityId, version, recordedBy]);

  it('are refused by the outbox itself, and a later UPDATE still lands within 1 s', async () => {
    const id = await createProduct(app);
    expect(await apiRead(app, id)).toEqual({ stock: 10, version: 1 });
    // The row: before, it made every repair pass fail until someone deleted it.
    await expect(insertRow('Product', 'not-a-uuid', 1, 'trigger')).rejects.toMatchObject({ code: '23514', message: `cache_outbox: entity_id 'not-a-uuid' is not a key of Product` });
    const refused: [string, string, number, string][] = [
      ['Gizmo', id, 1, 'trigger'], // no such kind
      ['product', id, 1, 'trigger'], // not a type's name
      ['Product', id.toUpperCase(), 1, 'trigger'], // a uuid, but not as id::text writes it: its key would be one nobody reads
      ['Product', id, -1, 'trigger'],
      ['Product', id, 1, 'someone'],
      ['Account.orders', '', 1, 'trigger'], // a list of an account names its account
      ['Query.productCatalog', id, 1, 'trigger'], // a list over a whole table has no owner
      ['Product', 'x'.repeat(201), 1, 'trigger'],
    ];
    for (const row of refused) await expect(insertRow(...row), JSON.stringify(row)).rejects.toMatchObject({ code: '23514' });
    // Not by hand either: an UPDATE of a waiting row is checked too.
    await external.query('begin');
    try {
      const { rows } = await insertRow('Product', id, 1, 'trigger');
      await expect(external.query(`update cache_outbox set entity_id = 'nope' where id = $1`, [rows[0]?.id])).rejects.toMatchObject({ code: '23514' });
    } finally {
      await external.query('rollback');
    }

    const committed = await externally('update products set stock = 3 where id = $1', [id]);
    expect(await by(committed, PROMISED_MS, () => landed(app, id, { stock: 3, version: 2 }))).toBe(true);
  });

  it('the rows docs/bypass-writes.md tells operators to add by hand are accepted and replayed', async () => {
    const id = await createProduct(app);
    expect(await apiRead(app, id)).toEqual({ stock: 10, version: 1 });
    await external.query('begin');
    await external.query(`set local freshgraph.writer = 'api'`);
    await external.query('update products set stock = 9, version = version + 1 where id = $1', [id]);
    await external.query('commit');
    await external.query(`insert into cache_outbox (entity, entity_id, version, recorded_by) select 'Product', id::text, version, 'trigger' from products where id = $1`, [id]);
    const recorded = await externally('notify freshgraph_outbox');
    expect(await by(recorded, PROMISED_MS, () => landed(app, id, { stock: 9, version: 2 }))).toBe(true);
  });

  it('that slip past the check (a writer that says it is the API) are set aside, logged once and counted, and every other row of the pass is replayed', async () => {
    const ids = [await createProduct(app), await createProduct(app), await createProduct(app)];
    const account = dataOf(await app.gql<{ createAccount: { id: string } }>('mutation { createAccount(owner: "Aside", balanceCents: 1) { id } }')).createAccount.id;
    for (const id of ids) expect(await apiRead(app, id)).toEqual({ stock: 10, version: 1 });
    // In the same transaction as a real change, so that one pass gets the bad rows and the good ones together.
    await external.query('begin');
    let bad: string[];
    try {
      await external.query(`select set_config('freshgraph.writer', 'api', true)`);
      const inserted = await external.query<{ id: string }>(
        `insert into cache_outbox (entity, entity_id, version, recorded_by)
         values ('Product', 'not-a-uuid', 1, 'trigger'), ('Gizmo', $1, 1, 'trigger'), ('Account.orders', 'nope', 1, 'trigger') returning id`,
        [ids[0]],
      );
      bad = inserted.rows.map((r) => String(r.id));
      await external.query(`select set_config('freshgraph.writer', '', true)`);
      await external.query('update products set stock = 4 where id = any($1::uuid[])', [ids]);
    } catch (err) {
      await external.query('rollback');
      throw err;
    }
    await external.query('commit');
    const committed = performance.now();
    expect(await by(committed, PROMISED_MS, async () => (await Promise.all(ids.map((id) => landed(app, id, { stock: 4, version: 2 })))).every(Boolean))).toBe(true);
    // And the outbox goes on: a later write by another program lands too.
    const later = await externally(`update accounts set owner = 'Aside again' where id = $1`, [account]);
    expect(
      await by(later, PROMISED_MS, async () => {
        const raw = await app.redis.get(`${app.prefix}:{Account:${account}}`);
        return raw !== null && parseEnvelope(raw)?.v === 2;
      }),
    ).toBe(true);

    const { rows: aside } = await external.query<{ id: string; entity: string; entity_id: string; reason: string }>(
      'select r.id::text as id, r.entity, r.entity_id, r.reason from cache_outbox_rejected r where r.id = any($1::bigint[]) order by r.id',
      [bad],
    );
    expect(aside.map((r) => [r.entity, r.entity_id])).toEqual([
      ['Product', 'not-a-uuid'],
      ['Gizmo', ids[0]],
      ['Account.orders', 'nope'],
    ]);
    expect(aside[0]?.reason).toMatch(/^loading it failed: invalid input syntax for type uuid/);
    expect(aside[1]?.reason).toBe('no kind of cached value is named "Gizmo" here');
    expect(aside[2]?.reason).toMatch(/^loading it failed: /);
    const { rows: left } = await external.query<{ n: number }>('select count(*)::int as n from cache_outbox where id = any($1::bigint[])', [bad]);
    expect(left[0]?.n).toBe(0);

    // Logged once each, however many passes run after.
    for (let i = 0; i < 3; i++) await app.running.deps.repair.runOnce();
    const logged = lines.filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).includes('set aside'));
    expect(bad.map((id) => logged.filter((l) => l['outboxId'] === id).length)).toEqual([1, 1, 1]);
    expect(logged.find((l) => l['outboxId'] === bad[0])).toMatchObject({ entity: 'Product', entityId: 'not-a-uuid', level: 40 });

    // Counted: by this instance since start, and the rows waiting aside, fleet-wide.
    const metrics = await waitFor(
      'the set-aside rows on /metrics',
      async () => (await rawFetch(new URL('/metrics', app.url).toString())).text,
      (text) => (sampleValue(text, 'freshgraph_cache_outbox_rejected') ?? 0) >= 3,
    );
    expect(sampleValue(metrics, 'freshgraph_cache_outbox_rejected_total')).toBe(3);
  });
});

describe('the triggers come from the entity definitions', () => {
  it('a new entity type gets its triggers from its definition alone; installing is idempotent; a type taken off the list loses them', async () => {
    const db = openDatabase({ url: scratch.url, dataDir: 'memory://' });
    try {
      expect(await installOutboxTriggers(db.knex, ENTITIES, LISTS)).toEqual({ installed: [], removed: [] });
      await db.knex.raw('create table gadgets (id uuid primary key, label text not null, version integer not null default 1)');
      const gadget = defineEntity({ type: 'Gadget', table: 'gadgets', columns: { id: uuid(), label: text(), version: int() } });
      // The outbox's check learns the new kind too.
      expect(await installOutboxTriggers(db.knex, [...ENTITIES, gadget], LISTS)).toEqual({ installed: ['gadgets', 'cache_outbox'], removed: [] });
      expect(await installOutboxTriggers(db.knex, [...ENTITIES, gadget], LISTS)).toEqual({ installed: [], removed: [] });

      const id = newId();
      await external.query('begin');
      try {
        await external.query(`insert into gadgets (id, label) values ($1, 'a')`, [id]);
        await external.query(`update gadgets set label = 'b' where id = $1`, [id]);
        await external.query(`delete from gadgets where id = $1`, [id]);
        const { rows } = await external.query('select entity, version, recorded_by from cache_outbox where entity_id = $1 order by id', [id]);
        expect(rows).toEqual([
          { entity: 'Gadget', version: 1, recorded_by: 'trigger' },
          { entity: 'Gadget', version: 2, recorded_by: 'trigger' },
          { entity: 'Gadget', version: 3, recorded_by: 'trigger' },
        ]);
      } finally {
        await external.query('rollback');
      }

      expect(await installOutboxTriggers(db.knex, ENTITIES, LISTS)).toEqual({ installed: ['cache_outbox'], removed: ['gadgets'] });
      await external.query(`insert into gadgets (id, label) values ($1, 'c')`, [id]);
      const { rows } = await external.query<{ n: number }>('select count(*)::int as n from cache_outbox where entity_id = $1', [id]);
      expect(rows[0]?.n).toBe(0);
    } finally {
      await db.knex.raw('drop table if exists gadgets');
      await db.close();
    }
  });

  it('a migration, run on the API pool, is recorded as another writer: the server stays out of the way only for its own statements', async () => {
    const db = openDatabase({ url: scratch.url, dataDir: 'memory://' });
    try {
      const [id] = (await insertProducts(db.knex, 1)) as [string];
      const recorded = (trx: typeof db.knex) =>
        trx.raw(`select count(*)::int as n from cache_outbox where entity_id = ? and recorded_by = 'trigger'`, [id]).then((r) => (r.rows[0] as { n: number }).n);
      const seen: number[] = [];
      await db.knex
        .transaction(async (trx) => {
          await trx.raw('update products set stock = 1 where id = ?', [id]);
          seen.push(await recorded(trx)); // the pool is the API: nothing
          await asOtherWriter(trx, 'migration', async (k) => {
            await k.raw('update products set stock = 2 where id = ?', [id]);
          });
          seen.push(await recorded(trx));
          throw new Error('roll back');
        })
        .catch((err: unknown) => {
          if (String(err).includes('roll back')) return;
          throw err;
        });
      expect(seen).toEqual([0, 1]);
      // set_config(..., true) is local to that transaction: the pool is the API again.
      expect((await db.knex.raw(`select current_setting('freshgraph.writer') as w`)).rows).toEqual([{ w: 'api' }]);
    } finally {
      await db.close();
    }
  });

  it("keeps libpq options already in DATABASE_URL next to the writer setting", async () => {
    const url = new URL(scratch.url);
    url.searchParams.set('options', '-c statement_timeout=4321');
    const db = openDatabase({ url: url.toString(), dataDir: 'memory://' });
    try {
      const { rows } = await db.knex.raw(`select current_setting('statement_timeout') as timeout, current_setting('freshgraph.writer') as writer`);
      expect(rows).toEqual([{ timeout: '4321ms', writer: 'api' }]);
    } finally {
      await db.close();
    }
  });
});
