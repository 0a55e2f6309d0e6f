import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CATEGORIES, DEMO_CATEGORIZATION, DEMO_PRODUCTS, ensureDemoData } from '../../examples/storefront/server/demo-data.js';
import { servePage, type PageServer } from '../../examples/storefront/server/serve-page.js';
import type { Catalogue } from '../../examples/storefront/shared/catalogue.js';
import { STOREFRONT_SERVER_ENV } from '../../examples/storefront/server/server-env.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { launchChromium, sideBySide } from '../helpers/chromium.js';

/**
 * The storefront example (examples/storefront) in Debian's Chromium: the page as
 * `npm run example` builds and serves it, on the test run's Postgres and Redis.
 * Screenshots land in test/.output/storefront/; `history-two-windows.png` is the one
 * docs/frontend.md shows (copy it to docs/images/storefront.png to refresh it).
 */
const OUTPUT = fileURLToPath(new URL('../.output/storefront/', import.meta.url));
// Tall enough for the products, the order history and the newest requests of the debug panel.
const VIEWPORT = { width: 720, height: 1150 };

/** What one Refresh (or focus) reads while the page shows every product, and while it shows a category. */
const PAGE_READS = ['Storefront', 'OrderHistory'];
const FILTERED_READS = ['Storefront', 'OrderHistory', 'CategoryProducts'];
/** The history's page size (examples/storefront/src/operations.ts). */
const HISTORY_PAGE = 5;

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
  let contexts: BrowserContext[] = [];
  let first: Page;
  let second: Page;

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'freshgraph-storefront-'));
    await build({
      configFile: fileURLToPath(new URL('../../examples/storefront/vite.config.ts', import.meta.url)),
      build: { outDir: buildDir, emptyOutDir: true },
      logLevel: 'error',
    });
    app = await startTestApp({ ...STOREFRONT_SERVER_ENV });
    catalogue = await ensureDemoData({ graphqlUrl: app.url, knex: app.running.deps.db.knex });
    page = await servePage({ root: buildDir, graphqlUrl: app.url, catalogue });
    browser = await launchChromium();
    // Two windows, each in a context of its own. As two tabs of one context, the page opened first drew a
    // frame or two a second (the tab behind), and every click waited about 2 s for two steady frames.
    contexts = [await browser.newContext({ viewport: VIEWPORT }), await browser.newContext({ viewport: VIEWPORT })];
    for (const c of contexts) c.setDefaultTimeout(20_000);
    [first, second] = [await contexts[0]!.newPage(), await contexts[1]!.newPage()];
    await Promise.all([first.goto(page.url), second.goto(page.url)]);
    await Promise.all([first.waitForSelector('#status[data-state="ready"]'), second.waitForSelector('#status[data-state="ready"]')]);
    await mkdir(OUTPUT, { recursive: true });
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
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
    // Each product shows the categories the demo data put it in.
    for (const { sku } of DEMO_PRODUCTS) {
      const chips = await first.locator(`#products tr[data-sku="${sku}"] .category`).evaluateAll((spans) => spans.map((c) => c.getAttribute('data-slug')));
      expect(chips).toEqual(DEMO_CATEGORIZATION[sku]);
    }
    // Another start finds every row again.
    expect(await ensureDemoData({ graphqlUrl: app.url, knex: app.running.deps.db.knex })).toEqual(catalogue);
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

  it("shows one window's stock change at the other window's next query, read from the cache", async () => {
    const before = await rowOf(second, 'SF-LAMP');
    // Both windows' first reads filled the cache; wait until every value the page reads is in it.
    await cacheIsWarm();

    await first.locator('tr[data-sku="SF-LAMP"] button[data-delta="1"]').click();
    const expected = { stock: before.stock + 1, version: before.version + 1 };
    await first.waitForSelector(`tr[data-sku="SF-LAMP"][data-stock="${expected.stock}"][data-version="${expected.version}"]`);

    const seenBefore = lastSeq(await entriesOf(second));
    await second.locator('#refresh').click();
    await second.waitForSelector(`tr[data-sku="SF-LAMP"][data-stock="${expected.stock}"][data-version="${expected.version}"]`);
    expect(await rowOf(second, 'SF-LAMP')).toEqual(expected);

    // The reads that brought the new version came from the cache: every value a hit, no SQL.
    expectAllFromCache(await requestsSince(second, seenBefore, PAGE_READS));
    expect(await second.locator('#debug li.request').first().locator('.badge').textContent()).toBe('all from cache');

    const shots = [
      { caption: 'Window 1: +1 on the desk lamp', png: await first.screenshot() },
      { caption: 'Window 2: after Refresh, straight from the cache', png: await second.screenshot() },
    ];
    await writeFile(join(OUTPUT, 'stock-first-window.png'), shots[0]!.png);
    await writeFile(join(OUTPUT, 'stock-second-window.png'), shots[1]!.png);
    await writeFile(join(OUTPUT, 'stock-two-windows.png'), await sideBySide(browser, shots));
  });

  it('reads again when its window gets focus back, and not before', async () => {
    const before = await rowOf(second, 'SF-MUG');
    await first.locator('tr[data-sku="SF-MUG"] button[data-delta="-1"]').click();
    const expected = { stock: before.stock - 1, version: before.version + 1 };
    await first.waitForSelector(`tr[data-sku="SF-MUG"][data-stock="${expected.stock}"][data-version="${expected.version}"]`);
    // Headless windows are all visible and focused, so nothing re-reads by itself...
    expect(await rowOf(second, 'SF-MUG')).toEqual(before);
    // ...until the window gets focus, as when a person switches back to it.
    await second.evaluate("window.dispatchEvent(new Event('focus'))");
    await second.waitForSelector(`tr[data-sku="SF-MUG"][data-stock="${expected.stock}"][data-version="${expected.version}"]`);
  });

  it("places an order in one window; the other window's next query shows its products and account, read from the cache", async () => {
    const [lampId, , notebookId] = catalogue.productIds;
    const [adaId] = catalogue.accountIds;
    const before = await serverState();
    // The second window read after the last change (the focus test): it shows what the server holds.
    for (const [sku, id] of [['SF-LAMP', lampId!], ['SF-NOTEBOOK', notebookId!]] as const) expect(await rowOf(second, sku)).toEqual(before.products[id]);
    expect(await accountOf(second, adaId!)).toEqual(before.accounts[adaId!]);
    // Earlier changes stop flashing first, so the screenshot marks only what the order changed.
    for (const view of [first, second]) await view.waitForSelector('.changed', { state: 'detached' });

    await first.locator('#products tr[data-sku="SF-LAMP"] button.add-to-cart').click();
    await first.locator('#products tr[data-sku="SF-NOTEBOOK"] button.add-to-cart').click();
    await first.locator(`#cart tr[data-product-id="${notebookId}"] input.quantity`).fill('3');
    await first.locator('#cart select.payer').selectOption(adaId!);
    const seenFirst = lastSeq(await entriesOf(first));
    const readAt = await first.locator('#status').textContent();
    await first.locator('#cart button.place-order').click();
    const placed = first.locator('#cart .order[data-order-id]');
    await placed.waitFor();

    const totalCents = priceOf('SF-LAMP') + 3 * priceOf('SF-NOTEBOOK');
    const lamp = { stock: before.products[lampId!]!.stock - 1, version: before.products[lampId!]!.version + 1 };
    const notebook = { stock: before.products[notebookId!]!.stock - 3, version: before.products[notebookId!]!.version + 1 };
    const ada = { balanceCents: before.accounts[adaId!]!.balanceCents - totalCents, version: before.accounts[adaId!]!.version + 1 };
    const orderId = await placed.getAttribute('data-order-id');
    expect({ version: await placed.getAttribute('data-version'), totalCents: await placed.getAttribute('data-total-cents') }).toEqual({ version: '1', totalCents: String(totalCents) });
    expect(await placed.locator('li').evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-product-id'), li.getAttribute('data-quantity')]))).toEqual([
      [lampId, '1'],
      [notebookId, '3'],
    ]);
    expect(await first.locator('#cart tr[data-product-id]').count()).toBe(0);
    // The server holds that order, and exactly the state the page is about to show.
    const stored = await app.gql<{ order: { totalCents: number; version: number; accountId: string } | null }>('query ($id: ID!) { order(id: $id) { totalCents version accountId } }', { id: orderId });
    expect(stored.data?.order).toEqual({ totalCents, version: 1, accountId: adaId });
    const after = await serverState();
    expect([after.products[lampId!], after.products[notebookId!], after.accounts[adaId!]]).toEqual([lamp, notebook, ada]);

    // The first window shows the order's effects from the mutation's own answer, normalised by Apollo: no read of its own.
    await first.waitForSelector(`#products tr[data-sku="SF-LAMP"][data-stock="${lamp.stock}"][data-version="${lamp.version}"]`);
    await first.waitForSelector(`#products tr[data-sku="SF-NOTEBOOK"][data-stock="${notebook.stock}"][data-version="${notebook.version}"]`);
    await first.waitForSelector(`#accounts li[data-id="${adaId}"][data-balance-cents="${ada.balanceCents}"][data-version="${ada.version}"]`);
    const firstSince = (await entriesOf(first)).filter((e) => e.seq > seenFirst);
    expect(firstSince.map((e) => e.operation)).toEqual(['PlaceOrder']);
    expect(await first.locator('#status').textContent()).toBe(readAt);

    // The second window has not read since, and still shows the old state...
    expect(await rowOf(second, 'SF-LAMP')).toEqual(before.products[lampId!]);
    expect(await accountOf(second, adaId!)).toEqual(before.accounts[adaId!]);
    // ...until its next query, which the cache answers: every row a hit, no SQL.
    const seenSecond = lastSeq(await entriesOf(second));
    await second.locator('#refresh').click();
    await second.waitForSelector(`#products tr[data-sku="SF-LAMP"][data-stock="${lamp.stock}"][data-version="${lamp.version}"]`);
    expect(await rowOf(second, 'SF-NOTEBOOK')).toEqual(notebook);
    expect(await accountOf(second, adaId!)).toEqual(ada);
    expectAllFromCache(await requestsSince(second, seenSecond, PAGE_READS));
    expect(await second.locator('#debug li.request').first().locator('.badge').textContent()).toBe('all from cache');

    const shots = [
      { caption: 'Window 1: an order for a lamp and three notebooks', png: await first.screenshot() },
      { caption: 'Window 2: after Refresh, straight from the cache', png: await second.screenshot() },
    ];
    await writeFile(join(OUTPUT, 'order-first-window.png'), shots[0]!.png);
    await writeFile(join(OUTPUT, 'order-second-window.png'), shots[1]!.png);
    await writeFile(join(OUTPUT, 'order-two-windows.png'), await sideBySide(browser, shots));
  });

  it('shows a refused order with its code and changes nothing: INSUFFICIENT_FUNDS, INSUFFICIENT_STOCK', async () => {
    const [, , , backpackId, kettleId] = catalogue.productIds;

    const [adaId, graceId] = catalogue.accountIds;
    const before = await serverState();
    const shownBefore = { backpack: await rowOf(first, 'SF-BACKPACK'), grace: await accountOf(first, graceId!) };

    // $89 from the $20 account.
    await first.locator('#products tr[data-sku="SF-BACKPACK"] button.add-to-cart').click();
    await first.locator('#cart select.payer').selectOption(graceId!);
    await first.locator('#cart button.place-order').click();
    const funds = first.locator('#cart .outcome .error[data-codes="INSUFFICIENT_FUNDS"]');
    await funds.waitFor();
    expect(await funds.textContent()).toContain(`cannot debit ${priceOf('SF-BACKPACK')}`);
    await first.waitForSelector('#debug li.request[data-operation="PlaceOrder"][data-error-codes="INSUFFICIENT_FUNDS"]');
    // The cart keeps its line, to try again with another account.
    expect(await first.locator(`#cart tr[data-product-id="${backpackId}"] input.quantity`).inputValue()).toBe('1');

    // The sold-out kettle, from an account that could pay for it.
    await first.locator('#products tr[data-sku="SF-KETTLE"] button.add-to-cart').click();
    await first.locator('#cart select.payer').selectOption(adaId!);
    await first.locator('#cart button.place-order').click();
    const stock = first.locator('#cart .outcome .error[data-codes="INSUFFICIENT_STOCK"]');
    await stock.waitFor();
    expect(await stock.textContent()).toContain(`Product ${kettleId} has 0 in stock`);

    expect(await serverState()).toEqual(before);
    expect({ backpack: await rowOf(first, 'SF-BACKPACK'), grace: await accountOf(first, graceId!) }).toEqual(shownBefore);

    for (const id of [backpackId, kettleId]) await first.locator(`#cart tr[data-product-id="${id}"] button.remove`).click();
    await first.waitForSelector('#cart p.empty:not([hidden])');
    expect(await first.locator('#cart button.place-order').isDisabled()).toBe(true);
  });

  it("filters by category; a product put in a category in one window is in the other window's filtered view at its next query, read from the cache", async () => {
    const travel = 'sf-travel';
    // Each category shows its demo products, by name (the order of Category.products).
    for (const { slug } of DEMO_CATEGORIES) {
      await second.locator(`#category-filter button[data-slug="${slug}"]`).click();
      await second.waitForSelector(`#products[data-filter="${slug}"] #category-filter .count[data-total-count]`);
      const expected = demoSkusIn(slug);
      expect(await shownSkus(second)).toEqual(expected);
      expect(await second.locator('#category-filter .count').getAttribute('data-total-count')).toBe(String(expected.length));
      expect(await pressedFilter(second)).toBe(slug);
    }
    await second.locator('#category-filter button[data-slug=""]').click();
    await second.waitForSelector('#products[data-filter="all"]');
    expect(await shownSkus(second)).toEqual(DEMO_PRODUCTS.map((p) => p.sku));

    await second.locator(`#category-filter button[data-slug="${travel}"]`).click();
    await second.waitForSelector(`#products[data-filter="${travel}"]`);
    const before = demoSkusIn(travel);
    expect(before).not.toContain('SF-NOTEBOOK');
    expect(await shownSkus(second)).toEqual(before);
    await cacheIsWarm(travel);

    // Window 1 (showing every product) puts the notebook in Travel with the row's menu.
    await first.locator('#products tr[data-sku="SF-NOTEBOOK"] select.categorize').selectOption({ label: 'Travel' });
    await first.waitForSelector(`#products tr[data-sku="SF-NOTEBOOK"] .category[data-slug="${travel}"]`);
    const withNotebook = sortedByName([...before, 'SF-NOTEBOOK']);
    expect(await serverSkusIn(travel)).toEqual(withNotebook);
    // Another start of the example keeps what the page changed (the notebook is in categories, so left alone).
    expect(await ensureDemoData({ graphqlUrl: app.url, knex: app.running.deps.db.knex })).toEqual(catalogue);
    expect(await serverSkusIn(travel)).toEqual(withNotebook);

    // Window 2 has not read since...
    expect(await shownSkus(second)).toEqual(before);
    // ...until its window gets focus: the same filter, read again, from the cache.
    const seen = lastSeq(await entriesOf(second));
    await second.evaluate("window.dispatchEvent(new Event('focus'))");
    await second.waitForSelector(`#products[data-filter="${travel}"] tr[data-sku="SF-NOTEBOOK"]`);
    expectAllFromCache(await requestsSince(second, seen, FILTERED_READS));
    expect(await shownSkus(second)).toEqual(withNotebook);
    expect(await second.locator('#category-filter .count').getAttribute('data-total-count')).toBe(String(withNotebook.length));
    expect(await pressedFilter(second)).toBe(travel);
    expect(await second.locator(`#products tr[data-sku="SF-NOTEBOOK"] .category`).evaluateAll((chips) => chips.map((c) => c.getAttribute('data-slug')))).toEqual(['sf-desk', travel]);

    const shots = [
      { caption: 'Window 1: the notebook goes to Travel too', png: await first.screenshot() },
      { caption: 'Window 2, filtered by Travel: at its next query', png: await second.screenshot() },
    ];
    await writeFile(join(OUTPUT, 'category-first-window.png'), shots[0]!.png);
    await writeFile(join(OUTPUT, 'category-second-window.png'), shots[1]!.png);
    await writeFile(join(OUTPUT, 'category-two-windows.png'), await sideBySide(browser, shots));

    // Refresh keeps the filter too.
    const seenRefresh = lastSeq(await entriesOf(second));
    await second.locator('#refresh').click();
    expectAllFromCache(await requestsSince(second, seenRefresh, FILTERED_READS));
    expect(await pressedFilter(second)).toBe(travel);
    expect(await shownSkus(second)).toEqual(withNotebook);

    // Out again with the chip's ×: gone from window 2's Travel at its next query.
    await first.locator(`#products tr[data-sku="SF-NOTEBOOK"] .category[data-slug="${travel}"] button.uncategorize`).click();
    await first.waitForSelector(`#products tr[data-sku="SF-NOTEBOOK"] .category[data-slug="${travel}"]`, { state: 'detached' });
    expect(await serverSkusIn(travel)).toEqual(before);
    await second.locator('#refresh').click();
    await second.waitForSelector(`#products[data-filter="${travel}"] tr[data-sku="SF-NOTEBOOK"]`, { state: 'detached' });
    expect(await shownSkus(second)).toEqual(before);
  });

  it("places an order in one window; the other window's next query shows it at the head of the account's history, read from the cache", async () => {
    const [, mugId] = catalogue.productIds;
    const [adaId] = catalogue.accountIds;
    // More orders than a page holds, placed through the API as another client would.
    for (let i = 0; i < HISTORY_PAGE; i++) {
      const placed = await app.gql('mutation ($a: ID!, $l: [OrderLineInput!]!) { placeOrder(accountId: $a, lines: $l) { id } }', { a: adaId, l: [{ productId: mugId, quantity: 1 }] });
      expect(placed.errors).toBeUndefined();
    }
    const before = await serverHistory(adaId!);
    expect(before.totalCount).toBeGreaterThan(HISTORY_PAGE);
    expect(before.ids).toHaveLength(HISTORY_PAGE);
    // Window 2 keeps the filter of the test before; both windows read again and show those orders.
    await second.locator('#category-filter button[data-slug="sf-travel"]').click();
    for (const view of [first, second]) {
      await view.locator('#refresh').click();
      await view.waitForSelector(`#orders[data-total-count="${before.totalCount}"] li[data-order-id="${before.ids[0]}"]:first-child`);
      expect(await historyOf(view)).toEqual({ accountId: adaId, totalCount: before.totalCount, ids: before.ids });
    }
    await cacheIsWarm('sf-travel');
    for (const view of [first, second]) await view.waitForSelector('.changed', { state: 'detached' });

    // Window 1 places an order; its history shows it from the mutation's own answer (it selects the first page).
    const seenFirst = lastSeq(await entriesOf(first));
    await first.locator('#products tr[data-sku="SF-NOTEBOOK"] button.add-to-cart').click();
    await first.locator('#cart select.payer').selectOption(adaId!);
    await first.locator('#cart button.place-order').click();
    const orderId = await first.locator('#cart .order[data-order-id]').getAttribute('data-order-id');
    const expected = { accountId: adaId, totalCount: before.totalCount + 1, ids: [orderId, ...before.ids.slice(0, HISTORY_PAGE - 1)] };
    await first.waitForSelector(`#orders[data-total-count="${expected.totalCount}"] li[data-order-id="${orderId}"]:first-child`);
    expect(await historyOf(first)).toEqual(expected);
    expect((await entriesOf(first)).filter((e) => e.seq > seenFirst).map((e) => e.operation)).toEqual(['PlaceOrder']);
    const after = await serverHistory(adaId!);
    expect({ accountId: adaId, totalCount: after.totalCount, ids: after.ids }).toEqual(expected);

    // Window 2 has not read since...
    expect(await historyOf(second)).toEqual({ accountId: adaId, totalCount: before.totalCount, ids: before.ids });
    // ...until its next query: the order at the head, one more in the total, every value from the cache.
    const seenSecond = lastSeq(await entriesOf(second));
    await second.locator('#refresh').click();
    await second.waitForSelector(`#orders[data-total-count="${expected.totalCount}"] li[data-order-id="${orderId}"]:first-child`);
    const reads = await requestsSince(second, seenSecond, FILTERED_READS);
    expectAllFromCache(reads);
    // The account, its list of orders, the page's orders and their lines' products: each read once, each a hit.
    expect(reads.find((e) => e.operation === 'OrderHistory')).toMatchObject({ hits: 2 + after.ids.length + after.productIds.length, misses: 0, sqlStatements: 0 });
    expect(await historyOf(second)).toEqual(expected);
    expect(await second.locator(`#orders li[data-order-id="${orderId}"]`).getAttribute('data-total-cents')).toBe(String(priceOf('SF-NOTEBOOK')));
    expect(await second.locator(`#orders li[data-order-id="${orderId}"] .lines`).textContent()).toBe('1 \u00d7 Dot-grid notebook');
    expect(await pressedFilter(second)).toBe('sf-travel');

    const shots = [
      { caption: 'Window 1: an order for a notebook', png: await first.screenshot() },
      { caption: 'Window 2: after Refresh, at the head of the history, from the cache', png: await second.screenshot() },
    ];
    await writeFile(join(OUTPUT, 'history-first-window.png'), shots[0]!.png);
    await writeFile(join(OUTPUT, 'history-second-window.png'), shots[1]!.png);
    await writeFile(join(OUTPUT, 'history-two-windows.png'), await sideBySide(browser, shots));

    // "More orders" reads the page after the last order shown (`after: endCursor`), from the cached list too.
    const next = await serverHistory(adaId!, after.endCursor);
    const seenMore = lastSeq(await entriesOf(second));
    await second.locator('#orders button.more').click();
    await second.waitForSelector(`#orders li[data-order-id="${next.ids[0]}"]`);
    expectAllFromCache(await requestsSince(second, seenMore, ['OrderHistory']));
    expect(await historyOf(second)).toEqual({ ...expected, ids: [...expected.ids, ...next.ids] });
    expect(await second.locator('#orders button.more').isHidden()).toBe(!next.hasNextPage);
    // A refetch reads the first page again, and shows only it.
    await second.locator('#refresh').click();
    await second.waitForSelector(`#orders li[data-order-id="${next.ids[0]}"]`, { state: 'detached' });
    expect(await historyOf(second)).toEqual(expected);

    // Another account's history, chosen in the menu above the list.
    const [, , notebookId] = catalogue.productIds;
    const [, graceId] = catalogue.accountIds;
    const placed = await app.gql('mutation ($a: ID!, $l: [OrderLineInput!]!) { placeOrder(accountId: $a, lines: $l) { id } }', { a: graceId, l: [{ productId: notebookId, quantity: 1 }] });
    expect(placed.errors).toBeUndefined();
    const grace = await serverHistory(graceId!);
    expect(grace.ids.length).toBeGreaterThan(0);
    await second.locator('#orders select.history-account').selectOption(graceId!);
    await second.waitForSelector(`#orders[data-account-id="${graceId}"][data-total-count="${grace.totalCount}"] li[data-order-id="${grace.ids[0]}"]`);
    expect(await historyOf(second)).toEqual({ accountId: graceId, totalCount: grace.totalCount, ids: grace.ids });
  });

  /** Every value the page reads is in the cache (a read of them misses nothing), with `slug`'s products if given. */
  async function cacheIsWarm(slug?: string): Promise<void> {
    const query = `query ($p: [ID!]!, $c: [ID!]!, $a: [ID!]!, $h: ID!, $s: String!, $withCategory: Boolean!) {
      products(ids: $p) { id categories { id } }
      categories(ids: $c) { id }
      accounts(ids: $a) { id }
      account(id: $h) { orders(first: ${HISTORY_PAGE}) { edges { node { id lines { product { id } } } } } }
      categoryBySlug(slug: $s) @include(if: $withCategory) { products(first: 50) { nodes { id categories { id } } } }
    }`;
    const variables = { p: catalogue.productIds, c: catalogue.categoryIds, a: catalogue.accountIds, h: catalogue.accountIds[0], s: slug ?? '', withCategory: slug !== undefined };
    await expect
      .poll(async () => (await app.gql(query, variables, { 'x-freshgraph-debug': '1' })).extensions?.['cache'], { timeout: 10_000 })
      .toMatchObject({ misses: 0, sqlStatements: 0 });
  }

  /**
   * Every request a cache read: no value missed, no SQL. The Storefront query reads each product, its list of
   * categories, each category (once, though products name them again) and each account: all of them hits.
   */
  function expectAllFromCache(entries: readonly RequestEntry[]): void {
    for (const entry of entries) expect(entry).toMatchObject({ misses: 0, sqlStatements: 0 });
    const storefront = entries.find((e) => e.operation === 'Storefront');
    const values = 2 * catalogue.productIds.length + catalogue.categoryIds.length + catalogue.accountIds.length;
    if (storefront) expect(storefront.hits).toBe(values);
  }

  /** The first page of the account's history (or the one after `after`) as the server holds it, and its lines' distinct products. */
  async function serverHistory(accountId: string, after?: string): Promise<{ totalCount: number; ids: string[]; productIds: string[]; endCursor: string; hasNextPage: boolean }> {
    const { data } = await app.gql<{
      account: { orders: { totalCount: number; edges: { node: { id: string; lines: { productId: string }[] } }[]; pageInfo: { endCursor: string; hasNextPage: boolean } } };
    }>(
      `query ($id: ID!, $after: String) { account(id: $id) { orders(first: ${HISTORY_PAGE}, after: $after) { totalCount edges { node { id lines { productId } } } pageInfo { endCursor hasNextPage } } } }`,
      { id: accountId, after },
    );
    if (!data) throw new Error('the server did not answer the history query');
    const { orders } = data.account;
    return {
      totalCount: orders.totalCount,
      ids: orders.edges.map((e) => e.node.id),
      productIds: [...new Set(orders.edges.flatMap((e) => e.node.lines.map((l) => l.productId)))],
      endCursor: orders.pageInfo.endCursor,
      hasNextPage: orders.pageInfo.hasNextPage,
    };
  }

  /** The skus of the category's products (its first 50), in the server's order. */
  async function serverSkusIn(slug: string): Promise<string[]> {
    const { data } = await app.gql<{ categoryBySlug: { products: { nodes: { sku: string }[] } } | null }>(
      'query ($slug: String!) { categoryBySlug(slug: $slug) { products(first: 50) { nodes { sku } } } }',
      { slug },
    );
    return data?.categoryBySlug?.products.nodes.map((n) => n.sku) ?? [];
  }

  /** Stock and version of every demo product, balance and version of every demo account, as the server holds them. */
  async function serverState(): Promise<{
    products: Record<string, { stock: number; version: number }>;
    accounts: Record<string, { balanceCents: number; version: number }>;
  }> {
    const { data } = await app.gql<{
      products: { id: string; stock: number; version: number }[];
      accounts: { id: string; balanceCents: number; version: number }[];
    }>('query ($p: [ID!]!, $a: [ID!]!) { products(ids: $p) { id stock version } accounts(ids: $a) { id balanceCents version } }', {
      p: catalogue.productIds,
      a: catalogue.accountIds,
    });
    if (!data) throw new Error('the server did not answer the state query');
    return {
      products: Object.fromEntries(data.products.map(({ id, stock, version }) => [id, { stock, version }])),
      accounts: Object.fromEntries(data.accounts.map(({ id, balanceCents, version }) => [id, { balanceCents, version }])),
    };
  }
});

async function rowOf(page: Page, sku: string): Promise<{ stock: number; version: number }> {
  const row = page.locator(`tr[data-sku="${sku}"]`);
  return { stock: Number(await row.getAttribute('data-stock')), version: Number(await row.getAttribute('data-version')) };
}

async function accountOf(page: Page, id: string): Promise<{ balanceCents: number; version: number }> {
  const item = page.locator(`#accounts li[data-id="${id}"]`);
  return { balanceCents: Number(await item.getAttribute('data-balance-cents')), version: Number(await item.getAttribute('data-version')) };
}

function priceOf(sku: string): number {
  const product = DEMO_PRODUCTS.find((p) => p.sku === sku);
  if (!product) throw new Error(`no demo product ${sku}`);
  return product.priceCents;
}

/** The demo products the demo data puts in the category, by name (as Category.products orders them). */
function demoSkusIn(slug: string): string[] {
  return sortedByName(DEMO_PRODUCTS.filter((p) => (DEMO_CATEGORIZATION[p.sku] as readonly string[]).includes(slug)).map((p) => p.sku));
}

function sortedByName(skus: readonly string[]): string[] {
  const nameOf = (sku: string) => DEMO_PRODUCTS.find((p) => p.sku === sku)?.name ?? sku;
  return [...skus].sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0));
}

const shownSkus = (page: Page): Promise<string[]> =>
  page.$$eval('#products tr[data-sku]', (trs) => trs.map((tr) => tr.getAttribute('data-sku') ?? ''));

const pressedFilter = (page: Page): Promise<string | null> =>
  page.locator('#category-filter button[aria-pressed="true"]').getAttribute('data-slug');

/** The order history as the page shows it: whose, the total, and the orders' ids from the top. */
async function historyOf(page: Page): Promise<{ accountId: string | null; totalCount: number; ids: (string | null)[] }> {
  const section = page.locator('#orders');
  return {
    accountId: await section.getAttribute('data-account-id'),
    totalCount: Number(await section.getAttribute('data-total-count')),
    ids: await section.locator('li[data-order-id]').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-order-id'))),
  };
}

/**
 * The requests the page sent after `seen`, once `operations` have all been answered (the debug panel
 * lists a request when its answer arrives): exactly those operations, in any order.
 */
async function requestsSince(page: Page, seen: number, operations: readonly string[]): Promise<RequestEntry[]> {
  await page.waitForSelector(`#debug li.request[data-seq="${seen + operations.length}"]`);
  const entries = (await entriesOf(page)).filter((e) => e.seq > seen);
  expect(entries.map((e) => e.operation).sort()).toEqual([...operations].sort());
  return entries;
}

const lastSeq = (entries: readonly RequestEntry[]): number => Math.max(0, ...entries.map((e) => e.seq));

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
