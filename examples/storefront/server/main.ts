import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { start } from '../../../src/main.js';
import { ensureDemoData } from './demo-data.js';
import { STOREFRONT_SERVER_ENV } from './server-env.js';
import { servePage } from './serve-page.js';

/**
 * `npm run example`: freshgraph with the debug view on, the demo products and
 * accounts, and the built page on one origin with /graphql forwarded to freshgraph.
 *
 * Environment: DATABASE_URL and REDIS_URL as for `npm start` (unset: embedded PGlite in
 * `.data/storefront` and the in-process cache); STOREFRONT_PORT for the page (default 4173).
 */
const root = fileURLToPath(new URL('../dist', import.meta.url));
if (!existsSync(`${root}/index.html`)) {
  console.error(`no built page in ${root}: run \`npm run example\` (it builds the page first)`);
  process.exit(1);
}
const pagePort = Number(process.env['STOREFRONT_PORT'] ?? 4173);

const freshgraph = await start({
  LOG_LEVEL: 'warn',
  MAX_COST: STOREFRONT_SERVER_ENV.MAX_COST,
  ...process.env,
  // The example's own embedded database, so it never contends with `npm start` for `.data/pglite`.
  DATA_DIR: process.env['DATA_DIR'] ?? '.data/storefront',
  DEBUG_EXTENSIONS: STOREFRONT_SERVER_ENV.DEBUG_EXTENSIONS,
  HOST: '127.0.0.1',
  PORT: '0',
});
const { db, store } = freshgraph.deps;
try {
  const catalogue = await ensureDemoData({ graphqlUrl: freshgraph.url, knex: db.knex });
  const page = await servePage({ root, graphqlUrl: freshgraph.url, catalogue, port: pagePort });
  console.log(`freshgraph: ${freshgraph.url} (${db.kind === 'pglite' ? `embedded PGlite in ${db.location}` : 'Postgres'}, ${store.kind === 'memory' ? 'in-process cache' : 'Redis'}, DEBUG_EXTENSIONS=true)`);
  console.log(`storefront: ${page.url.replace('127.0.0.1', 'localhost')}  (open it in two windows; Ctrl-C stops both)`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void page
        .close()
        .then(() => freshgraph.shutdown())
        .then(() => process.exit(0));
    });
  }
} catch (err) {
  await freshgraph.shutdown();
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`port ${pagePort} is taken: set STOREFRONT_PORT to another one`);
    process.exit(1);
  }
  throw err;
}
