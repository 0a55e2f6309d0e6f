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
/**
 * The text forms the column kinds decode (see TEXT_TYPES), the same whatever
 * the server or the database sets: timestamps with a zone written as UTC, dates
 * as ISO (`2026-12-04`, `0044-03-15 BC`), floats with the digits that read back
 * to the same value (a database with extra_float_digits = 0 would round them).
 */
const TEXT_FORM_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO,MDY -c extra_float_digits=1';
const SESSION_OPTIONS = `${WRITER_OPTION} ${TEXT_FORM_OPTIONS}`;

/**
 * Types both drivers hand over as the text Postgres wrote: each would lose
 * something, or differ between pg and PGlite, as a JavaScript value (bigint
 * beyond 2^53 or as a BigInt, numeric digits, a date shifted to a local
 * midnight, microseconds of a time or timestamp), and their arrays. The entity
 * columns decode that text exactly (src/entities/columns.ts). Everything else
 * keeps the drivers' own parsing, which is exact for it.
 */
const TEXT_TYPES = new Set([
  20, 1016, // int8
  1700, 1231, // numeric
  1082, 1182, // date
  1083, 1183, // time
  1114, 1115, // timestamp
  1184, 1185, // timestamptz
]);
const asText = (value: string): string => value;

/** pg's parsers, with TEXT_TYPES as text: for this pool's connections only (tests and tools keep pg's defaults). */
const PG_TYPES = {
  getTypeParser: (oid: number, format: string): ((value: string) => unknown) =>
    // Cast: pg's overloads of getTypeParser do not take the plain (oid, format) it calls this with.
    TEXT_TYPES.has(oid) ? asText : (pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown),
};

const PGLITE_PARSERS = Object.fromEntries([...TEXT_TYPES].map((oid) => [oid, asText]));

export function openDatabase(options: DatabaseOptions): Database {
  if (options.url !== undefined) {
    const url = options.url;
    // An application_name in the URL wins; operators use it to tell instances apart.
    const named = new URL(url).searchParams.has('application_name');
    const knex = knexPkg.knex({
      client: 'pg',
      connection: { connectionString: withOption(url, SESSION_OPTIONS), types: PG_TYPES, ...(named ? {} : { application_name: 'freshgraph' }) },
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
    startParams: [...PGlite.defaultStartParams, ...SESSION_OPTIONS.split(' ')],
    parsers: PGLITE_PARSERS,
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
