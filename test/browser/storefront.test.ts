import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoData } from '../../examples/storefront/server/demo-data.js';
import { servePage, type PageServer } from '../../examples/storefront/server/serve-page.js';
import type { Catalogue } from '../../examples/storefront/shared/catalogue.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { launchChromium, sideBySide } from '../helpers/chromium.js';

/**
 * The storefront example (examples/storefront) in Debian's Chromium: the page as
 * `npm run example` builds and serves it, on the test run's Postgres and Redis.
 * Screenshots land in test/.output/storefront/; `two-windows.png` is the one the
 * README shows (copy it to docs/images/storefront.png to refresh it).
 */
const OUTPUT = fileURLToPath(new URL('../.output/storefront/', import.meta.url));
const VIEWPORT = { width: 720, height: 720 };

interface RequestEntry {
  seq: number;
  operation: string;
  hits: number;
  misses: number;
  sqlStatements: number;
}

describe('the storefront example in Chromium', () => {
  let buildDir: string;
  let app: TestApp;
  let catalogue: Catalogue;
  let page: PageServer;
  let browser: Browser;
  let context: BrowserContext;
  let first: Page;
  let second: Page;

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'freshgraph-storefront-'));
    await build({
      configFile: fileURLToPath(new URL('../../examples/storefront/vite.config.ts', import.meta.url)),
      build: { outDir: buildDir, emptyOutDir: true },
      logLevel: 'error',
    });
    app = await startTestApp({ DEBUG_EXTENSIONS: 'true' });
    catalogue = await ensureDemoData({ graphqlUrl: app.url, knex: app.running.deps.db.knex });
    page = await servePage({ root: buildDir, graphqlUrl: app.url, catalogue });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: VIEWPORT });
    context.setDefaultTimeout(20_000);
    [first, second] = [await context.newPage(), await context.newPage()];
    await Promise.all([first.goto(page.url), second.goto(page.url)]);
    await Promise.all([first.waitForSelector('#status[data-state="ready"]'), second.waitForSelector('#status[data-state="ready"]')]);
    await mkdir(OUTPUT, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await page?.close();
    await app?.close();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  });

  it('serves the catalogue and proxies /graphql on the page origin', async () => {
    const json = (await (await fetch(new URL('/storefront.json', page.url))).json()) as Catalogue;
    expect(json).toEqual({ graphqlUrl: '/graphql', ...catalogue });
    const rows = await first.$$eval('tr[data-sku]', (trs) => trs.map((tr) => tr.getAttribute('data-sku')));
    expect(rows).toEqual(['SF-LAMP', 'SF-MUG', 'SF-NOTEBOOK', 'SF-BACKPACK', 'SF-KETTLE']);
  });

  it('shows the error code when a stock change is refused', async () => {
    const kettle = first.locator('tr[data-sku="SF-KETTLE"]');
    expect(await kettle.getAttribute('data-stock')).toBe('0');
    await kettle.locator('button[data-delta="-1"]').click();
    const error = first.locator('tr[data-for-sku="SF-KETTLE"] td.error[data-codes="INSUFFICIENT_STOCK"]');
    await error.waitFor();
    expect(await error.textContent()).toContain('has 0 in stock');
    expect(await kettle.getAttribute('data-stock')).toBe('0');
  });

  it("shows one tab's stock change at the other tab's next query, read from the cache", async () => {
    const before = await rowOf(second, 'SF-LAMP');
    // Both tabs' first reads filled the cache; wait until every row of the page is in it.
    await expect
      .poll(async () => (await app.gql('query ($p: [ID!]!, $a: [ID!]!) { products(ids: $p) { id } accounts(ids: $a) { id } }', { p: catalogue.productIds, a: catalogue.accountIds }, { 'x-freshgraph-debug': '1' })).extensions?.['cache'], { timeout: 10_000 })
      .toMatchObject({ misses: 0 });

    await first.locator('tr[data-sku="SF-LAMP"] button[data-delta="1"]').click();
    const expected = { stock: before.stock + 1, version: before.version + 1 };
    await first.waitForSelector(`tr[data-sku="SF-LAMP"][data-stock="${expected.stock}"][data-version="${expected.version}"]`);

    const seenBefore = Math.max(0, ...(await entriesOf(second)).map((e) => e.seq));
    await second.locator('#refresh').click();
    await second.waitForSelector(`tr[data-sku="SF-LAMP"][data-stock="${expected.stock}"][data-version="${expected.version}"]`);
    expect(await rowOf(second, 'SF-LAMP')).toEqual(expected);

    // The read that brought the new version came from the cache: every row a hit, no SQL.
    const rows = catalogue.productIds.length + catalogue.accountIds.length;
    const after = (await entriesOf(second)).filter((e) => e.seq > seenBefore);
    expect(after.length).toBeGreaterThan(0);
    for (const entry of after) expect(entry).toMatchObject({ operation: 'Storefront', hits: rows, misses: 0, sqlStatements: 0 });
    expect(await second.locator('#debug li.request').first().locator('.badge').textContent()).toBe('all from cache');

    const shots = [
      { caption: 'Window 1: +1 on the desk lamp', png: await first.screenshot() },
      { caption: 'Window 2: after Refresh, straight from the cache', png: await second.screenshot() },
    ];
    await writeFile(join(OUTPUT, 'first-tab.png'), shots[0]!.png);
    await writeFile(join(OUTPUT, 'second-tab.png'), shots[1]!.png);
    await writeFile(join(OUTPUT, 'two-windows.png'), await sideBySide(browser, shots));
  });

  it('reads again when its window gets focus back, and not before', async () => {
    const before = await rowOf(second, 'SF-MUG');
    await first.locator('tr[data-sku="SF-MUG"] button[data-delta="-1"]').click();
    const expected = { stock: before.stock - 1, version: before.version + 1 };
    await first.waitForSelector(`tr[data-sku="SF-MUG"][data-stock="${expected.stock}"][data-version="${expected.version}"]`);
    // Headless tabs are all visible and focused, so nothing re-reads by itself...
    expect(await rowOf(second, 'SF-MUG')).toEqual(before);
    // ...until the window gets focus, as when a person switches back to it.
    await second.evaluate("window.dispatchEvent(new Event('focus'))");
    await second.waitForSelector(`tr[data-sku="SF-MUG"][data-stock="${expected.stock}"][data-version="${expected.version}"]`);
  });
});

async function rowOf(page: Page, sku: string): Promise<{ stock: number; version: number }> {
  const row = page.locator(`tr[data-sku="${sku}"]`);
  return { stock: Number(await row.getAttribute('data-stock')), version: Number(await row.getAttribute('data-version')) };
}

async function entriesOf(page: Page): Promise<RequestEntry[]> {
  return page.$$eval('#debug li.request', (items) =>
    items.map((li) => ({
      seq: Number(li.getAttribute('data-seq')),
      operation: li.getAttribute('data-operation') ?? '',
      hits: Number(li.getAttribute('data-hits')),
      misses: Number(li.getAttribute('data-misses')),
      sqlStatements: Number(li.getAttribute('data-sql-statements')),
    })),
  );
}
