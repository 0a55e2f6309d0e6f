import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { dataOf, postGraphql, uniquePrefix, uniqueSku } from '../helpers/app.js';
import { copyProject, type ProjectCopy } from '../helpers/project-copy.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { REDIS_URL } from '../helpers/services.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';
import { Redis } from 'ioredis';

/**
 * A deploy that changes a table, rolled out while the old instances still run,
 * both against one Postgres and one Redis: the new code adds a column
 * (`Product.weightGrams`, with its migration) and orders a category's products
 * the other way. Neither side may serve an error, a missing or wrong field, or
 * a version older than one acknowledged before its read began; once the old
 * instance is gone the cache converges to the new shape, without a flush.
 */

let scratch: ScratchDatabase;
let copy: ProjectCopy;
let oldServer: ServerProcess | undefined;
let newServer: ServerProcess | undefined;
let external: pg.Client;
let inspector: Redis;
const prefix = uniquePrefix();
const products: string[] = [];
let category = '';

const BYPASS_ALLOWANCE_MS = 1000;
const env = (app: string) => ({ DATABASE_URL: scratch.urlFor(app), REDIS_URL, CACHE_PREFIX: prefix, LOG_LEVEL: 'error', DEBUG_EXTENSIONS: 'true' });

beforeAll(async () => {
  scratch = await createScratchDatabase('deploy');
  external = new pg.Client({ connectionString: scratch.url, application_name: 'fg-deploy-external' });
  await external.connect();
  inspector = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await inspector.connect();
  oldServer = await spawnServer(env('fg-deploy-old'), 120_000);
  for (let i = 0; i < 8; i++) {
    const created = await postGraphql<{ createProduct: { id: string } }>(
      oldServer.url,
      'mutation($i: NewProduct!) { createProduct(input: $i) { id } }',
      { i: { sku: uniqueSku('DEPLOY'), name: `Product ${String.fromCharCode(65 + i)}`, priceCents: 100, stock: 1_000_000 } },
    );
    products.push(dataOf(created).createProduct.id);
  }
  category = dataOf(await postGraphql<{ createCategory: { id: string } }>(oldServer.url, 'mutation { createCategory(input: { name: "All", slug: "deploy-all" }) { id } }')).createCategory.id;
  for (const id of products) {
    dataOf(await postGraphql(oldServer.url, 'mutation($p: ID!, $c: [ID!]!) { categorize(productId: $p, categoryIds: $c) { id } }', { p: id, c: [category] }));
  }

  // The next version of the code: a new nullable column with its migration, and the other order for a category's products.
  copy = copyProject();
  copy.edit('src/entities/product.ts', 'stock: int(),', 'stock: int(),\n    weightGrams: int().orNull(),');
  copy.edit('schema/schema.graphql', /(type Product @key\(fields: "id"\) \{[\s\S]*?stock: Int!)/, '$1\n  weightGrams: Int');
  copy.write(
    'src/db/migrations/900-product-weight.ts',
    `import type { Knex } from 'knex';\nexport async function up(knex: Knex): Promise<void> {\n  await knex.raw('alter table products add column weight_grams integer');\n}\nexport async function down(knex: Knex): Promise<void> {\n  await knex.raw('alter table products drop column weight_grams');\n}\n`,
  );
  copy.edit('src/db/migrations/index.ts', "const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [", "import * as weight from './900-product-weight.js';\nconst MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [\n  ['900-product-weight', weight],");
  copy.edit('src/entities/category.ts', "order: [asc('name')]", "order: [desc('name')]");
  copy.edit('src/entities/category.ts', "import { asc, defineEntity", "import { asc, desc, defineEntity");
}, 240_000);

afterAll(async () => {
  await oldServer?.stop();
  await newServer?.stop();
  copy?.remove();
  await external?.end();
  if (inspector) {
    const keys = await inspector.keys(`${prefix}:*`);
    if (keys.length > 0) await inspector.del(...keys);
    inspector.disconnect();
  }
  await scratch?.drop();
}, 120_000);

interface Seen {
  readonly id: string;
  readonly stock: number;
  readonly version: number;
  readonly weightGrams?: number | null;
}

const read = async (url: string, withWeight: boolean) =>
  postGraphql<{ products: Seen[] }>(url, `query($ids: [ID!]!) { products(ids: $ids) { id stock version ${withWeight ? 'weightGrams' : ''} } }`, { ids: products });
const categoryNames = async (url: string) =>
  postGraphql<{ category: { products: { nodes: { name: string }[] } } }>(url, 'query($c: ID!) { category(id: $c) { products(first: 20) { nodes { name } } } }', { c: category }, { 'x-freshgraph-debug': '1' });

describe('a rolling deploy that changes a table', () => {
  it('serves both versions side by side without errors, wrong fields or stale versions, then converges to the new shape', async () => {
    newServer = await spawnServer(env('fg-deploy-new'), 120_000, copy.root);
    const old = oldServer as ServerProcess;
    const next = newServer;
    /** The version each product reached, with the weight it had then, as acknowledged to this test. */
    const acknowledged = new Map<string, { version: number; at: number }[]>(products.map((id) => [id, []]));
    const weights = new Map<string, number | null>();
    const problems: string[] = [];
    const until = performance.now() + 6_000;
    let reads = 0;
    const write = async (url: string, i: number) => {
      for (let n = 0; performance.now() < until; n++) {
        const id = products[(i + n) % products.length] as string;
        const res = await postGraphql<{ adjustStock: { version: number } }>(url, 'mutation($id: ID!) { adjustStock(id: $id, delta: -1) { version } }', { id });
        if (res.errors) problems.push(`write ${url}: ${JSON.stringify(res.errors)}`);
        else (acknowledged.get(id) as { version: number; at: number }[]).push({ version: dataOf(res).adjustStock.version, at: performance.now() });
      }
    };
    // Another program sets the new column meanwhile: its trigger raises the version as for any change.
    const weigh = async () => {
      for (let n = 0; performance.now() < until; n++) {
        const id = products[n % products.length] as string;
        const { rows } = await external.query<{ version: number; weight_grams: number }>('update products set weight_grams = $2 where id = $1 returning version, weight_grams', [id, 100 + n]);
        const row = rows[0] as { version: number; weight_grams: number };
        // Another program's write reaches the cache within about a second (the repair worker), not at once.
        (acknowledged.get(id) as { version: number; at: number }[]).push({ version: row.version, at: performance.now() + BYPASS_ALLOWANCE_MS });
        weights.set(`${id}@${row.version}`, row.weight_grams);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const readLoop = async (url: string, withWeight: boolean) => {
      while (performance.now() < until) {
        const began = performance.now();
        const res = await read(url, withWeight);
        reads++;
        if (res.errors) {
          problems.push(`read ${url}: ${JSON.stringify(res.errors)}`);
          continue;
        }
        for (const seen of dataOf(res).products) {
          const newest = Math.max(0, ...(acknowledged.get(seen.id) ?? []).filter((a) => a.at < began).map((a) => a.version));
          if (seen.version < newest) problems.push(`stale on ${withWeight ? 'new' : 'old'}: ${seen.id} at ${seen.version}, ${newest} acknowledged before`);
          if (!withWeight && 'weightGrams' in seen) problems.push('the old version served a field it does not have');
          const expected = weights.get(`${seen.id}@${seen.version}`);
          if (withWeight && expected !== undefined && seen.weightGrams !== expected) problems.push(`wrong weight ${seen.weightGrams} for ${seen.id}@${seen.version} (expected ${expected})`);
        }
        const names = await categoryNames(url);
        if (names.errors) problems.push(`list ${url}: ${JSON.stringify(names.errors)}`);
        else {
          const got = dataOf(names).category.products.nodes.map((n) => n.name);
          const sorted = [...got].sort();
          if (JSON.stringify(got) !== JSON.stringify(withWeight ? sorted.reverse() : sorted)) problems.push(`${withWeight ? 'new' : 'old'} list out of its order: ${got.join(',')}`);
        }
      }
    };
    await Promise.all([write(old.url, 0), write(next.url, 3), weigh(), readLoop(old.url, false), readLoop(old.url, false), readLoop(next.url, true), readLoop(next.url, true)]);
    expect(problems.slice(0, 10)).toEqual([]);
    expect(reads).toBeGreaterThan(20);

    // The old instance is gone: the new shape fills the cache and is served from it, exact.
    await old.stop();
    oldServer = undefined;
    await read(next.url, true);
    await categoryNames(next.url);
    const warm = await postGraphql<{ products: Seen[] }>(next.url, 'query($ids: [ID!]!) { products(ids: $ids) { id stock version weightGrams } }', { ids: products }, { 'x-freshgraph-debug': '1' });
    expect(warm.extensions?.['cache']).toMatchObject({ misses: 0, sqlStatements: 0 });
    const { rows } = await external.query<{ id: string; stock: number; version: number; weight_grams: number | null }>(
      'select id::text, stock, version, weight_grams from products where id = any($1::uuid[])',
      [products],
    );
    const truth = new Map(rows.map((r) => [r.id, { id: r.id, stock: r.stock, version: r.version, weightGrams: r.weight_grams }]));
    expect(dataOf(warm).products).toEqual(products.map((id) => truth.get(id)));
    const list = await categoryNames(next.url);
    expect(list.extensions?.['cache']).toMatchObject({ sqlStatements: 0 });
    const shapes = (await inspector.mget(...products.map((id) => `${prefix}:{Product:${id}}`))).map((raw) => parseEnvelope(raw as string)?.s);
    expect(new Set(shapes).size).toBe(1);
  });
});
