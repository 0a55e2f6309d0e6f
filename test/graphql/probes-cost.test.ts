import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { QUIET_BACKGROUND, startTestApp, type TestApp } from '../helpers/app.js';
import { countSql } from '../helpers/counting.js';
import { rawFetch, sampleValue } from '../helpers/http.js';

/**
 * Probes and scrapes share the database pool with GraphQL, so they must cost
 * it (almost) nothing however often they come: /readyz runs one check at a
 * time and reuses its result for READY_CACHE_MS, and /metrics runs no SQL.
 */
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ ...QUIET_BACKGROUND, READY_CACHE_MS: '60000' });
});
afterAll(async () => {
  await app?.close();
});

const get = (path: string) => rawFetch(new URL(path, app.url).toString());

describe('/readyz', () => {
  it('runs one check for any number of probes, concurrent or not, within READY_CACHE_MS', async () => {
    const checks = countSql(app.running.deps.db.knex, (sql) => /^select 1$/i.test(sql.trim()));
    try {
      const concurrent = await Promise.all(Array.from({ length: 20 }, () => get('/readyz')));
      for (let i = 0; i < 10; i++) concurrent.push(await get('/readyz'));
      expect(concurrent.map((r) => r.status)).toEqual(Array.from({ length: 30 }, () => 200));
      expect(concurrent[29]?.json).toEqual({ status: 'ready', checks: { serving: 'ok', database: 'ok', cache: 'ok' } });
      expect(checks.count).toBe(1);
    } finally {
      checks.stop();
    }
  });
});

describe('/metrics', () => {
  it('runs no SQL at all, however often it is scraped', async () => {
    const statements = countSql(app.running.deps.db.knex, () => true);
    try {
      for (let i = 0; i < 5; i++) expect((await get('/metrics')).status).toBe(200);
      expect(statements.statements).toEqual([]);
    } finally {
      statements.stop();
    }
  });

  it('shows the outbox backlog the repair loop counted on its last pass', async () => {
    const { knex } = app.running.deps.db;
    // A row of a write still in flight: young, so no pass replays it before it is counted.
    const [row] = (await knex('cache_outbox').insert({ entity: 'Product', entity_id: newId(), version: 1 }).returning('id')) as { id: string }[];
    try {
      await app.running.deps.repair.runOnce();
      const counted = app.running.deps.repair.outboxPending;
      expect(counted).toBeGreaterThanOrEqual(1);
      const statements = countSql(knex, () => true);
      const text = (await get('/metrics')).text;
      statements.stop();
      expect(sampleValue(text, 'freshgraph_cache_outbox_pending')).toBe(counted);
      expect(statements.count).toBe(0);
    } finally {
      await knex('cache_outbox').where({ id: row?.id }).delete();
    }
  });
});
