/**
 * What the outbox triggers (src/db/outbox-triggers.ts) cost, measured on this
 * machine against real Postgres and Redis, with the server running in this
 * process on a scratch database of its own (dropped at the end):
 *
 *   npx tsx bench/tools/bypass-cost.ts api [--mutations 2000] [--rounds 3] [--concurrency 1]
 *     The API's adjustStock over HTTP with the triggers installed and with them
 *     dropped, in interleaved rounds (the order alternates): the cost the
 *     triggers add to the API's own writes, which they must not record.
 *
 *   npx tsx bench/tools/bypass-cost.ts sql [--statements 20000] [--rounds 5]
 *     The same comparison inside Postgres, without HTTP and Node: the API's
 *     statement (an UPDATE with its outbox insert in one CTE) in a loop on a
 *     connection that says it is the API, rolled back afterwards; and the WAL
 *     records that statement writes to the two tables (pg_walinspect).
 *
 *   npx tsx bench/tools/bypass-cost.ts migration [--rows 100000] [--rounds 2]
 *     One UPDATE of every row by "another program": with the triggers out of
 *     the way (freshgraph.writer = api, version raised by hand), recording with
 *     the version raised by hand, and recording and raising it; then, for the
 *     last, how long the repair worker takes until the cache has every change,
 *     what that cost this process, and what it left in Redis.
 *
 * Options: --admin-url (Postgres role that may create databases), --redis-url.
 * Figures from a busy shared machine: read the ratios, and run it twice.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import knexPkg from 'knex';
import pg from 'pg';
import { installOutboxTriggers } from '../../src/db/outbox-triggers.js';
import { ENTITIES, LISTS } from '../../src/entities/index.js';
import { newId } from '../../src/ids.js';
import { start, type Running } from '../../src/main.js';
import { median } from '../lib/random.js';
import { deleteByPrefix } from '../lib/redis.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'admin-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379/0' },
    mutations: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '' },
    rows: { type: 'string', default: '100000' },
    statements: { type: 'string', default: '20000' },
  },
});
const mode = positionals[0];
if (mode !== 'api' && mode !== 'sql' && mode !== 'migration') {
  console.error('usage: tsx bench/tools/bypass-cost.ts api|sql|migration [options] (see the comment at the top)');
  process.exit(2);
}
const log = (line: string) => process.stderr.write(`${line}\n`);


const name = `freshgraph_bypasscost_${randomBytes(4).toString('hex')}`;
const adminUrl = values['admin-url'];
const dbUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
})();
const prefix = `fgbypass-${randomBytes(4).toString('hex')}`;
const admin = knexPkg.knex({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
const redis = new Redis(values['redis-url']);
await admin.raw(`create database ${name}`);
let running: Running | undefined;
try {
  running = await start({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    REDIS_URL: values['redis-url'],
    CACHE_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    CONSISTENCY_SAMPLE_INTERVAL_MS: '0',
  });
  if (mode === 'api') await measureApi(running);
  else if (mode === 'sql') await measureSql(running);
  else await measureMigration(running);
} finally {
  await running?.shutdown();
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
  await admin.raw(`drop database if exists ${name} with (force)`);
  await admin.destroy();
}

function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

async function insertProducts(run: Running, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 10_000) {
    const n = Math.min(10_000, count - start);
    const batch = Array.from({ length: n }, () => newId());
    // Through the server's pool: it says it is the API, so the triggers record nothing for these new rows.
    await run.deps.db.knex.raw(
      `insert into products (id, sku, name, price_cents, stock)
       select id, 'COST-' || id, 'Cost product', 100, 1000000 from unnest(?::uuid[]) as t(id)`,
      [batch],
    );
    ids.push(...batch);
  }
  await run.deps.db.knex.raw('analyze products');
  return ids;
}

async function setTriggers(run: Running, on: boolean): Promise<void> {
  if (on) {
    await installOutboxTriggers(run.deps.db.knex, ENTITIES, LISTS);
    return;
  }
  for (const entity of ENTITIES) {
    for (const trigger of ['freshgraph_version', 'freshgraph_record_insert', 'freshgraph_record_update', 'freshgraph_record_delete']) {
      await run.deps.db.knex.raw(`drop trigger if exists ${trigger} on "${entity.table}"`);
    }
  }
}

async function measureApi(run: Running): Promise<void> {
  const mutations = Number(values.mutations);
  const concurrency = Number(values.concurrency);
  const rounds = Number(values.rounds || 3);
  const ids = await insertProducts(run, 200);
  const body = (i: number) => JSON.stringify({ query: 'mutation($id: ID!) { adjustStock(id: $id, delta: 1) { version } }', variables: { id: ids[i % ids.length] } });
  const post = async (i: number) => {
    const res = await fetch(run.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) });
    const json = (await res.json()) as { errors?: unknown };
    if (json.errors) throw new Error(JSON.stringify(json.errors));
  };
  const drive = async (n: number): Promise<number> => {
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) await post(next++);
    }));
    return performance.now() - started;
  };
  await drive(300); // warm-up: JIT, pool, prepared plans
  const results: Record<'off' | 'on', number[]> = { off: [], on: [] };
  for (let round = 0; round < rounds; round++) {
    for (const variant of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      await setTriggers(run, variant === 'on');
      await drive(100);
      const ms = await drive(mutations);
      const perMutation = (ms * concurrency) / mutations;
      results[variant].push(perMutation);
      log(`round ${round + 1} triggers ${variant.padEnd(3)}: ${mutations} adjustStock in ${fmt(ms, 0)} ms, ${fmt(perMutation, 3)} ms each, ${fmt((mutations / ms) * 1000, 0)}/s`);
    }
  }
  const leftovers = Number((await run.deps.db.knex.raw(`select count(*)::int as n from cache_outbox where recorded_by = 'trigger'`)).rows[0].n);
  const off = median(results.off);
  const on = median(results.on);
  // Each round's two runs are neighbours in time: their ratio is less exposed to the machine's swings than the medians'.
  const paired = results.on.map((x, i) => x / (results.off[i] as number));
  console.log(`\nadjustStock over HTTP, concurrency ${concurrency}, ${rounds} interleaved rounds of ${mutations}`);
  console.log(`| triggers | ms per mutation (median) | every round |`);
  console.log(`|---|---|---|`);
  console.log(`| dropped | ${fmt(off, 3)} | ${results.off.map((x) => fmt(x, 3)).join(', ')} |`);
  console.log(`| installed | ${fmt(on, 3)} | ${results.on.map((x) => fmt(x, 3)).join(', ')} |`);
  console.log(`ratio installed/dropped: of the medians ${fmt(on / off, 3)}; per round ${paired.map((r) => fmt(r, 3)).join(', ')} (median ${fmt(median(paired), 3)})`);
  console.log(`outbox rows recorded by a trigger: ${leftovers}`);
}

/** The API's adjustStock statement, as src/db/products.ts and outbox-repository.ts build it, `n` times over every product in turn. */
function apiLoop(n: number, abort: boolean): string {
  return `do $$
declare ids uuid[] := (select array_agg(id) from products);
        c int; started timestamptz := clock_timestamp();
begin
  for i in 1..${n} loop
    with changed as (update products set stock = stock + 1, version = version + 1, updated_at = now()
                     where id = ids[1 + i % cardinality(ids)] and stock + 1 >= 0 returning *),
         recorded as (insert into cache_outbox (entity, entity_id, version) select 'Product', id::text, version from changed returning id)
    select count(*) into c from changed;
  end loop;
  ${abort ? `raise exception 'elapsed_us=%', extract(epoch from clock_timestamp() - started) * 1e6;` : ''}
end $$`;
}

async function measureSql(run: Running): Promise<void> {
  const statements = Number(values.statements);
  const rounds = Number(values.rounds || 5);
  // Enough rows that one loop changes each only a few times (long update chains in one transaction would dominate).
  await insertProducts(run, 10_000);
  // One connection of the server's pool: it carries freshgraph.writer = api, as every API statement does.
  const timeLoop = async (): Promise<number> => {
    try {
      await run.deps.db.knex.raw(apiLoop(statements, true));
    } catch (err) {
      const m = /elapsed_us=([0-9.]+)/.exec(String(err));
      if (m) return Number(m[1]) / statements;
      throw err;
    }
    throw new Error('the loop did not report its time');
  };
  await timeLoop(); // warm-up
  const results: Record<'off' | 'on', number[]> = { off: [], on: [] };
  for (let round = 0; round < rounds; round++) {
    for (const variant of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      await setTriggers(run, variant === 'on');
      results[variant].push(await timeLoop());
    }
  }
  console.log(`\nthe API's UPDATE + outbox statement inside Postgres, ${statements} per loop, ${rounds} interleaved rounds (rolled back)`);
  console.log(`| triggers | µs per statement (min) | (median) | every round |`);
  console.log(`|---|---|---|---|`);
  for (const v of ['off', 'on'] as const) {
    console.log(`| ${v === 'off' ? 'dropped' : 'installed'} | ${fmt(Math.min(...results[v]), 1)} | ${fmt(median(results[v]), 1)} | ${results[v].map((x) => fmt(x, 1)).join(', ')} |`);
  }
  const paired = results.on.map((x, i) => x / (results.off[i] as number));
  console.log(`ratio installed/dropped: of the minimums ${fmt(Math.min(...results.on) / Math.min(...results.off), 3)}; per round median ${fmt(median(paired), 3)}`);

  // WAL records written to the two tables per statement: exact, whatever the machine is doing.
  const knex = run.deps.db.knex;
  try {
    await knex.raw('create extension if not exists pg_walinspect');
  } catch (err) {
    console.log(`(no WAL figures: pg_walinspect is not available: ${String(err)})`);
    return;
  }
  const n = 2000;
  for (const variant of ['off', 'on'] as const) {
    await setTriggers(run, variant === 'on');
    await knex.raw('checkpoint');
    // Flushed positions: pg_walinspect reads no further than the flush, and the loop's commit flushes its records.
    const before = String((await knex.raw('select pg_current_wal_flush_lsn() as l')).rows[0].l);
    await knex.raw(apiLoop(n, false));
    const after = String((await knex.raw('select pg_current_wal_flush_lsn() as l')).rows[0].l);
    const records = (
      await knex.raw(
        `select split_part(record_type, ' ', 1) as kind, count(*)::int as n, sum(record_length - coalesce(fpi_length, 0))::int as bytes
         from pg_get_wal_records_info(?::pg_lsn, ?::pg_lsn)
         where block_ref ~ ('/(' || pg_relation_filenode('products') || '|' || pg_relation_filenode('cache_outbox') || ') ')
         group by 1 order by 1`,
        [before, after],
      )
    ).rows as { kind: string; n: number; bytes: number }[];
    await knex.raw(`delete from cache_outbox where recorded_by = 'api'`);
    console.log(`WAL records per API statement, triggers ${variant === 'off' ? 'dropped' : 'installed'}: ${records.map((r) => `${r.kind} ${fmt(r.n / n)} (${fmt(r.bytes / n, 0)} B without page images)`).join(', ')}`);
  }
}

async function measureMigration(run: Running): Promise<void> {
  const rows = Number(values.rows);
  const rounds = Number(values.rounds || 2);
  log(`seeding ${rows} products`);
  await insertProducts(run, rows);
  const other = new pg.Client({ connectionString: dbUrl, application_name: 'bypass-cost-migration' });
  await other.connect();
  const outboxCount = async () => Number((await other.query<{ n: number }>(`select count(*)::int as n from cache_outbox where recorded_by = 'trigger'`)).rows[0]?.n);
  const { cache } = run.deps;
  try {
    for (let round = 1; round <= rounds; round++) {
      // Out of the way: the writer says it is the API and raises versions itself; nothing reaches the cache.
      await other.query(`set freshgraph.writer = 'api'`);
      let t = performance.now();
      await other.query('update products set price_cents = price_cents + 1, version = version + 1');
      const offMs = performance.now() - t;
      await other.query('reset freshgraph.writer');

      // Recording, with the version raised by the writer: the per-row version function does not run.
      t = performance.now();
      await other.query('update products set price_cents = price_cents + 1, version = version + 1');
      const raisedMs = performance.now() - t;
      for (let waited = 0; (await outboxCount()) > 0 && waited < 30 * 60_000; waited += 100) await new Promise((r) => setTimeout(r, 100));

      const repairsBefore = cache.counters.repairs;
      const cpuBefore = process.cpuUsage();
      t = performance.now();
      await other.query('update products set price_cents = price_cents + 1');
      const committed = performance.now();
      const onMs = committed - t;
      const recorded = await outboxCount();
      let caughtUpMs = Number.NaN;
      for (;;) {
        await new Promise((r) => setTimeout(r, 100));
        if ((await outboxCount()) === 0) {
          caughtUpMs = performance.now() - committed;
          break;
        }
        if (performance.now() - committed > 30 * 60_000) break;
      }
      const cpu = process.cpuUsage(cpuBefore);
      const repaired = cache.counters.repairs - repairsBefore;
      const sample = (await other.query<{ id: string; version: number }>('select id::text, version from products order by random() limit 200')).rows;
      const envelopes = await redis.mget(...sample.map((r) => `${prefix}:{Product:${r.id}}`));
      const current = sample.filter((r, i) => {
        const raw = envelopes[i];
        return raw !== null && raw !== undefined && (JSON.parse(raw) as { v: number }).v === r.version;
      }).length;
      const bytes = await Promise.all(sample.slice(0, 50).map((r) => redis.call('MEMORY', 'USAGE', `${prefix}:{Product:${r.id}}`) as Promise<number | null>));
      const avgBytes = bytes.reduce<number>((sum, b) => sum + (b ?? 0), 0) / bytes.length;
      const outboxSize = Number((await other.query<{ b: string }>(`select pg_total_relation_size('cache_outbox')::bigint as b`)).rows[0]?.b);
      console.log(`\nround ${round}: UPDATE of ${rows} rows`);
      console.log(`| | |`);
      console.log(`|---|---|`);
      console.log(`| statement, triggers out of the way (writer = api) | ${fmt(offMs, 0)} ms |`);
      console.log(`| statement, triggers recording, version raised by the writer | ${fmt(raisedMs, 0)} ms (x${fmt(raisedMs / offMs)}) |`);
      console.log(`| statement, triggers recording and raising the version | ${fmt(onMs, 0)} ms (x${fmt(onMs / offMs)}) |`);
      console.log(`| outbox rows written by the triggers | ${recorded} |`);
      console.log(`| from commit until the outbox was empty (one instance) | ${fmt(caughtUpMs, 0)} ms (${fmt((repaired / caughtUpMs) * 1000, 0)} rows/s) |`);
      console.log(`| rows replayed by this instance | ${repaired} |`);
      console.log(`| this process's CPU meanwhile (user + system) | ${fmt((cpu.user + cpu.system) / 1e6)} s |`);
      console.log(`| random sample of 200 keys at the row's version | ${current}/200 |`);
      console.log(`| Redis memory per envelope (MEMORY USAGE, 50 keys) | ${fmt(avgBytes, 0)} bytes |`);
      console.log(`| cache_outbox size on disk afterwards | ${fmt(outboxSize / 1024 / 1024, 1)} MiB |`);
    }
  } finally {
    await other.end();
  }
}
