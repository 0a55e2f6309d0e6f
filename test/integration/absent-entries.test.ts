import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import type { MemoryStore } from '../../src/cache/memory-store.js';
import { newId } from '../../src/ids.js';
import { dataOf, QUIET_BACKGROUND, startTestApp, type TestApp } from '../helpers/app.js';
import { insertProducts } from '../helpers/products.js';

/**
 * "No such row" entries (version 0) live for CACHE_ABSENT_TTL_SECONDS, not the
 * full CACHE_TTL_SECONDS: reading random ids must not fill the cache for long.
 */
const read = (app: TestApp, id: string) => app.gql<{ product: { id: string } | null }>('query($id: ID!) { product(id: $id) { id } }', { id });

describe('absent entries on Redis', () => {
  let app: TestApp;
  let configured: TestApp;
  beforeAll(async () => {
    app = await startTestApp(QUIET_BACKGROUND);
    configured = await startTestApp({ ...QUIET_BACKGROUND, CACHE_TTL_SECONDS: '600', CACHE_ABSENT_TTL_SECONDS: '7' });
  });
  afterAll(async () => {
    await app?.close();
    await configured?.close();
  });

  it('live 30 s by default, while rows live CACHE_TTL_SECONDS', async () => {
    const [present] = (await insertProducts(app.running.deps.db.knex, 1)) as [string];
    const missing = newId();
    expect(dataOf(await read(app, missing)).product).toBeNull();
    expect(dataOf(await read(app, present)).product?.id).toBe(present);
    await app.running.deps.cache.idle();
    const absentKey = `${app.prefix}:{Product:${missing}}`;
    const absentTtl = await app.redis.pttl(absentKey);
    expect(absentTtl).toBeGreaterThan(0);
    expect(absentTtl).toBeLessThanOrEqual(30_000);
    const envelope = parseEnvelope((await app.redis.get(absentKey)) as string);
    expect(envelope).toMatchObject({ v: 0, data: null });
    // The logical expiry (early refresh) ends with the key.
    expect((envelope?.exp ?? 0) - Date.parse(envelope?.written_at ?? '')).toBe(30_000);
    expect(await app.redis.pttl(`${app.prefix}:{Product:${present}}`)).toBeGreaterThan(30_000);
  });

  it('follow CACHE_ABSENT_TTL_SECONDS', async () => {
    const missing = newId();
    expect(dataOf(await read(configured, missing)).product).toBeNull();
    await configured.running.deps.cache.idle();
    const ttl = await configured.redis.pttl(`${configured.prefix}:{Product:${missing}}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(7_000);
  });
});

describe('absent entries in the in-process store', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ...QUIET_BACKGROUND, REDIS_URL: '', CACHE_ABSENT_TTL_SECONDS: '9' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('live CACHE_ABSENT_TTL_SECONDS there too', async () => {
    const store = app.running.deps.store as MemoryStore;
    expect(store.kind).toBe('memory');
    const missing = newId();
    expect(dataOf(await read(app, missing)).product).toBeNull();
    await app.running.deps.cache.idle();
    const ttl = store.pttl(`${app.prefix}:{Product:${missing}}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(9_000);
  });
});
