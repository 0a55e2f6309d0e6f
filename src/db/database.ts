import { mkdirSync } from 'node:fs';
import knexPkg, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';

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
  close(): Promise<void>;
}

// Integer and bigint columns are read as numbers; every value we store fits in 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export function openDatabase(options: DatabaseOptions): Database {
  if (options.url !== undefined) {
    const knex = knexPkg.knex({
      client: 'pg',
      // An application_name in the URL wins; operators use it to tell instances apart.
      connection: new URL(options.url).searchParams.has('application_name')
        ? { connectionString: options.url }
        : { connectionString: options.url, application_name: 'freshgraph' },
      pool: { min: 0, max: options.poolMax ?? 10 },
      ...(options.log ? { log: { warn: options.log.warn, error: options.log.error, deprecate: options.log.warn, debug: () => {} } } : {}),
      acquireConnectionTimeout: 5_000,
    });
    return { knex, kind: 'postgres', location: redactUrl(options.url), close: () => knex.destroy() };
  }
  const inMemory = options.dataDir === 'memory://';
  if (!inMemory) mkdirSync(options.dataDir, { recursive: true });
  const knex = knexPkg.knex({
    client: ClientPgLite as unknown as typeof knexPkg.Client,
    connection: inMemory ? {} : { filename: options.dataDir },
  });
  return {
    knex,
    kind: 'pglite',
    location: inMemory ? 'in memory' : options.dataDir,
    close: () => knex.destroy(),
  };
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
