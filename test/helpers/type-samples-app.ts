import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import knexPkg, { type Knex } from 'knex';
import { Redis } from 'ioredis';
import { typeSamplesDdl, typeSamplesSdl } from '../fixtures/type-samples.js';
import { deleteByPrefix, uniquePrefix } from './app.js';
import { copyProject, type ProjectCopy } from './project-copy.js';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database.js';
import { REDIS_URL } from './services.js';

type Main = typeof import('../../src/main.js');
type ServerModule = typeof import('../../src/server.js');
type EnvelopeModule = typeof import('../../src/cache/envelope.js');

/**
 * The real server, in this process, serving the test-only types of
 * test/fixtures/type-samples.ts besides the shop's: a copy of the project whose
 * ENTITIES and schema/ hold them, loaded from the copy (its modules are its
 * own, so this checkout's ENTITIES stay as they are), against a scratch
 * database of its own where the tables are created before the server starts.
 */
export interface TypeSamplesApp {
  readonly running: Awaited<ReturnType<Main['start']>>;
  /** The copy's createServer, to build servers with and without the fast path over the same loaders. */
  readonly createServer: ServerModule['createServer'];
  readonly parseEnvelope: EnvelopeModule['parseEnvelope'];
  readonly url: string;
  readonly prefix: string;
  /** A plain pg connection to the scratch database, with pg's default parsers: what another program sees. */
  readonly sql: Knex;
  readonly redis: Redis;
  close(): Promise<void>;
}

/**
 * The same on the embedded database (PGlite, in memory): the tables come from a
 * migration of the copy's own, and the copy's PGlite loads citext. `sql` is the
 * server's own pool there (one PGlite session, which says it is the API: its
 * writes are not recorded for the cache by the triggers).
 */
export async function startEmbeddedTypeSamplesApp(): Promise<Omit<TypeSamplesApp, 'createServer'>> {
  const copy = copyProject();
  try {
    copy.write('schema/type-samples.graphql', typeSamplesSdl());
    editEntities(copy);
    copy.write(
      'src/db/migrations/900-type-samples.ts',
      [
        "import type { Knex } from 'knex';",
        "import { typeSamplesDdl } from '../../../test/fixtures/type-samples.js';",
        'export async function up(knex: Knex): Promise<void> {',
        "  for (const statement of typeSamplesDdl().split(';\\n')) await knex.raw(statement);",
        '}',
        'export async function down(): Promise<void> {}',
        '',
      ].join('\n'),
    );
    copy.edit('src/db/migrations/index.ts', 'const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [', "import * as typeSamples from './900-type-samples.js';\nconst MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [");
    copy.edit('src/db/migrations/index.ts', "  ['009-cache-shapes', cacheShapes],", "  ['009-cache-shapes', cacheShapes],\n  ['900-type-samples', typeSamples],");
    copy.edit('src/db/database.ts', "import { PGlite } from '@electric-sql/pglite';", "import { PGlite } from '@electric-sql/pglite';\nimport { citext } from '@electric-sql/pglite/contrib/citext';");
    copy.edit('src/db/database.ts', 'const pglite = new PGlite({', 'const pglite = new PGlite({\n    extensions: { citext },');
    const main = await loadFrom<Main>(copy, 'src/main.ts');
    const envelope = await loadFrom<EnvelopeModule>(copy, 'src/cache/envelope.ts');
    const prefix = uniquePrefix();
    const running = await main.start({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: 'memory://', REDIS_URL, CACHE_PREFIX: prefix, LOG_LEVEL: 'silent', NODE_ENV: 'test' });
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    return {
      running,
      parseEnvelope: envelope.parseEnvelope,
      url: running.url,
      prefix,
      sql: running.deps.db.knex,
      redis,
      async close() {
        await running.shutdown();
        await deleteByPrefix(redis, prefix);
        redis.disconnect();
        copy.remove();
      },
    };
  } catch (err) {
    copy.remove();
    throw err;
  }
}

function editEntities(copy: ProjectCopy): void {
  copy.edit('src/entities/index.ts', "import { product } from './product.js';", "import { product } from './product.js';\nimport { TYPE_SAMPLE_ENTITIES } from '../../test/fixtures/type-samples.js';");
  copy.edit('src/entities/index.ts', 'export const ENTITIES = [product, account, order, category] as const;', 'export const ENTITIES = [product, account, order, category, ...TYPE_SAMPLE_ENTITIES] as const;');
}

const loadFrom = async <M>(copy: ProjectCopy, path: string): Promise<M> => (await import(pathToFileURL(join(copy.root, path)).href)) as M;

export async function startTypeSamplesApp(env: Record<string, string> = {}): Promise<TypeSamplesApp> {
  const scratch: ScratchDatabase = await createScratchDatabase('types');
  const sql = knexPkg.knex({ client: 'pg', connection: scratch.url, pool: { min: 0, max: 2 } });
  let copy: ProjectCopy | undefined;
  try {
    await sql.raw(typeSamplesDdl());
    // Forms other than the ones the column kinds read: the server's sessions must set their own (db/database.ts).
    await sql.raw(`alter database ${scratch.name} set DateStyle = 'SQL, DMY'`);
    await sql.raw(`alter database ${scratch.name} set TimeZone = 'America/New_York'`);
    await sql.raw(`alter database ${scratch.name} set extra_float_digits = 0`);
    copy = copyProject();
    copy.write('schema/type-samples.graphql', typeSamplesSdl());
    editEntities(copy);
    const main = await loadFrom<Main>(copy, 'src/main.ts');
    const server = await loadFrom<ServerModule>(copy, 'src/server.ts');
    const envelope = await loadFrom<EnvelopeModule>(copy, 'src/cache/envelope.ts');
    const prefix = uniquePrefix();
    const running = await main.start({
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: scratch.url,
      REDIS_URL,
      CACHE_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
      DEBUG_EXTENSIONS: 'true',
      ...env,
    });
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const made = copy;
    return {
      running,
      createServer: server.createServer,
      parseEnvelope: envelope.parseEnvelope,
      url: running.url,
      prefix,
      sql,
      redis,
      async close() {
        await running.shutdown();
        await deleteByPrefix(redis, prefix);
        redis.disconnect();
        await sql.destroy();
        made.remove();
        await scratch.drop();
      },
    };
  } catch (err) {
    await sql.destroy();
    copy?.remove();
    await scratch.drop();
    throw err;
  }
}
