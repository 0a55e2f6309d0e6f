import { request } from 'node:http';
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexPkg from 'knex';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { deleteByPrefix, uniquePrefix } from '../helpers/app.js';
import { insertProducts } from '../helpers/products.js';
import { REDIS_URL } from '../helpers/services.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';
import { waitFor } from '../helpers/wait-for.js';

const prefix = uniquePrefix();
const knex = knexPkg.knex({ client: 'pg', connection: inject('databaseUrl'), pool: { min: 0, max: 2 } });
const redis = new Redis(REDIS_URL, { lazyConnect: true });
let server: ServerProcess | undefined;

function getOnOwnConnection(url: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown }));
    })
      .on('error', reject)
      .end();
  });
}

/** One POST on a connection of its own (no keep-alive reuse), so each request is in flight from the moment it is sent. */
function postOnOwnConnection(url: string, body: unknown): Promise<{ status: number; json: { data?: unknown; errors?: unknown[] } }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { data?: unknown; errors?: unknown[] } }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

beforeAll(async () => {
  await redis.connect();
});
afterAll(async () => {
  await server?.stop('SIGKILL');
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
  await knex.destroy();
});

describe('graceful shutdown', () => {
  it('on SIGTERM finishes the requests in flight and their cache writes, clears the outbox, and exits 0', { timeout: 180_000 }, async () => {
    // A short drain delay, as behind a load balancer: requests already on their way are accepted.
    server = await spawnServer({ DATABASE_URL: inject('databaseUrl'), REDIS_URL, CACHE_PREFIX: prefix, LOG_LEVEL: 'warn', SHUTDOWN_DELAY_MS: '6000' }, 120_000);
    const ids = await insertProducts(knex, 100);
    const mutation = `mutation($c: [StockChange!]!) { adjustStocks(changes: $c) { id version } }`;
    // Twenty mutations of 5 rows each, in flight when the signal arrives.
    const inFlight = Array.from({ length: 20 }, (_, i) =>
      postOnOwnConnection(server!.url, { query: mutation, variables: { c: ids.slice(i * 5, i * 5 + 5).map((id) => ({ id, delta: -1 })) } }),
    );
    for (const p of inFlight) p.catch(() => undefined); // judged below, not as unhandled rejections
    // Long enough for the server to have received them all.
    await new Promise((r) => setTimeout(r, 100));
    const exitCode = server.stop('SIGTERM');
    // While it drains, the instance reports itself unready (once it has handled the signal).
    const readyzUrl = server.url.replace('/graphql', '/readyz');
    // The drain delay is long, so that a busy machine's slow signal handling and slow polls still fall inside it.
    const readyz = await waitFor('/readyz to turn 503', () => getOnOwnConnection(readyzUrl), (r) => r.status === 503, 5_000, 10);
    expect((readyz.json as { checks: Record<string, string> }).checks['serving']).toBe('error');
    const settled = await Promise.allSettled(inFlight);
    expect(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
    const responses = await Promise.all(inFlight);
    expect(await exitCode).toBe(0);
    server = undefined;

    for (const r of responses) {
      expect(r.status).toBe(200);
      expect(r.json.errors).toBeUndefined();
    }
    // Every acknowledged version is in Postgres and in the cache; nothing is left for a repair.
    const rows = (await knex('products').whereIn('id', ids).select('id', 'version', 'stock')) as { id: string; version: number; stock: number }[];
    const changed = rows.filter((r) => r.version > 1);
    expect(changed.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.stock).toBe(100 - (row.version - 1));
    const cached = await redis.mget(...rows.map((r) => `${prefix}:{Product:${r.id}}`));
    rows.forEach((row, i) => {
      if (row.version > 1) expect(parseEnvelope(cached[i] as string)?.v, row.id).toBe(row.version);
    });
    const pending = (await knex('cache_outbox').whereIn('entity_id', ids).count({ n: '*' })) as [{ n: string }];
    expect(Number(pending[0].n)).toBe(0);
  });
});
