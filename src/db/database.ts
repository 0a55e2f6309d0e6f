import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import knexPkg, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import { NotificationListener, type Listening, type ListenOptions } from './notification-listener.js';
import { API_WRITER, WRITER_SETTING } from './outbox-triggers.js';

export interface DatabaseOptions {
  /** A postgres:// URL; undefined selects the embedded PGlite database. */
  readonly url: string | undefined;
  /** Directory of the embedded database; 'memory://' keeps it in memory. */
  readonly dataDir: string;
  /** @default 10 */
  readonly poolMax?: number;
  /** Where knex's own warnings go (a dropped pooled connection, say); console by default. */
  readonly log?: { warn(message: string): void; error(message: string): void };
}

export interface Database {
  readonly knex: Knex;
  readonly kind: 'postgres' | 'pglite';
  /** Where the data lives, with any password removed; for the start-up log. */
  readonly location: string;
  /** Subscribes to a NOTIFY channel, on a connection of its own where there is more than one. */
  listen(options: ListenOptions): Promise<Listening>;
  close(): Promise<void>;
}

/**
 * Every connection opened here says it is the API (`freshgraph.writer = api`):
 * the API records its changes for the cache itself, so the outbox triggers
 * (outbox-triggers.ts) leave its writes alone. Postgres gets the setting in the
 * startup packet, at no extra round trip; PGlite in its start parameters.
 */
const WRITER_OPTION = `-c ${WRITER_SETTING}=${API_WRITER}`;

// Integer and bigint columns are read as numbers; every value we store fits in 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export function openDatabase(options: DatabaseOptions): Database {
  if (options.url !== undefined) {
    const url = options.url;
    // An application_name in the URL wins; operators use it to tell instances apart.
    const named = new URL(url).searchParams.has('application_name');
    const knex = knexPkg.knex({
      client: 'pg',
      connection: { connectionString: withOption(url, WRITER_OPTION), ...(named ? {} : { application_name: 'freshgraph' }) },
      pool: { min: 0, max: options.poolMax ?? 10 },
      ...(options.log ? { log: { warn: options.log.warn, error: options.log.error, deprecate: options.log.warn, debug: () => {} } } : {}),
      acquireConnectionTimeout: 5_000,
    });
    return {
      knex,
      kind: 'postgres',
      location: redactUrl(url),
      listen: async (listenOptions) =>
        new NotificationListener({ connectionString: url, ...(named ? {} : { application_name: 'freshgraph-listener' }) }, listenOptions),
      close: () => knex.destroy(),
    };
  }
  const inMemory = options.dataDir === 'memory://';
  if (!inMemory) mkdirSync(options.dataDir, { recursive: true });
  const pglite = new PGlite({
    ...(inMemory ? {} : { dataDir: options.dataDir }),
    startParams: [...PGlite.defaultStartParams, ...WRITER_OPTION.split(' ')],
  });
  const knex = knexPkg.knex({
    client: ClientPgLite as unknown as typeof knexPkg.Client,
    // knex-pglite's documented way to hand it an instance of our own (it has no typings for it).
    connection: () => ({ pglite }) as object,
  });
  return {
    knex,
    kind: 'pglite',
    location: inMemory ? 'in memory' : options.dataDir,
    // PGlite is one session in this process: LISTEN on it; notifications arrive with query results.
    listen: async ({ channel, onNotify }) => {
      const unlisten = await pglite.listen(channel, () => onNotify());
      return { connected: true, close: () => unlisten().catch(() => undefined) };
    },
    close: () => knex.destroy(),
  };
}

/** The URL with `option` added to its libpq `options` parameter (kept, if it has one). */
function withOption(url: string, option: string): string {
  const parsed = new URL(url);
  const existing = parsed.searchParams.get('options');
  parsed.searchParams.set('options', existing ? `${existing} ${option}` : option);
  return parsed.toString();
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres';
  }
}
