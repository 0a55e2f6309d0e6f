import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dataOf, postGraphql, uniqueSku } from '../helpers/app.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';

const dataDir = mkdtempSync(join(tmpdir(), 'freshgraph-embedded-'));
let server: ServerProcess | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the embedded default', () => {
  // Starting tsx and PGlite's WebAssembly takes seconds, more on a busy machine.
  it('starts with no DATABASE_URL or REDIS_URL, says so, and serves a create followed by a read', { timeout: 180_000 }, async () => {
    server = await spawnServer({ DATA_DIR: join(dataDir, 'pglite') }, 120_000);
    const modeLine = server.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => typeof l['database'] === 'string');
    expect(modeLine?.['database']).toMatch(/embedded PGlite/);
    expect(modeLine?.['cache']).toMatch(/in-process store/);

    const sku = uniqueSku('EMB');
    const created = dataOf(
      await postGraphql<{ createProduct: { id: string; version: number } }>(
        server.url,
        `mutation($s: String!) { createProduct(input: { sku: $s, name: "Embedded", priceCents: 5, stock: 2 }) { id version } }`,
        { s: sku },
      ),
    ).createProduct;
    expect(created.version).toBe(1);
    const adjusted = dataOf(
      await postGraphql<{ adjustStock: { version: number; stock: number } }>(server.url, `mutation($id: ID!) { adjustStock(id: $id, delta: -1) { version stock } }`, { id: created.id }),
    ).adjustStock;
    expect(adjusted).toEqual({ version: 2, stock: 1 });
    const read = dataOf(
      await postGraphql<{ product: { sku: string; version: number }; productBySku: { id: string } }>(
        server.url,
        `query($id: ID!, $s: String!) { product(id: $id) { sku version } productBySku(sku: $s) { id } }`,
        { id: created.id, s: sku },
      ),
    );
    expect(read).toEqual({ product: { sku, version: 2 }, productBySku: { id: created.id } });
    expect(await server.stop()).toBe(0);
    server = undefined;
  });

  it('keeps its data across restarts in the data directory', { timeout: 240_000 }, async () => {
    server = await spawnServer({ DATA_DIR: join(dataDir, 'pglite') }, 120_000);
    const sku = uniqueSku('PERSIST');
    const { createProduct } = dataOf(
      await postGraphql<{ createProduct: { id: string } }>(server.url, `mutation($s: String!) { createProduct(input: { sku: $s, name: "P", priceCents: 1, stock: 1 }) { id } }`, { s: sku }),
    );
    await server.stop();
    server = await spawnServer({ DATA_DIR: join(dataDir, 'pglite') }, 120_000);
    const read = dataOf(await postGraphql<{ product: { sku: string } }>(server.url, `query($id: ID!) { product(id: $id) { sku } }`, { id: createProduct.id }));
    expect(read.product.sku).toBe(sku);
  });
});
