import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import knexPkg from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pull as pullTables } from '../../src/pull/pull.js';
import { codesOf, dataOf, postGraphql, uniquePrefix, type GqlResponse } from '../helpers/app.js';
import { copyProject, type ProjectCopy } from '../helpers/project-copy.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/scratch-database.js';
import { REDIS_URL } from '../helpers/services.js';
import { PROJECT_ROOT, spawnServer, type ServerProcess } from '../helpers/spawn-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * An existing database put behind freshgraph as docs/adopt.md says: the Chinook
 * sample (test/fixtures/chinook) loaded into a scratch database, `npm run pull`
 * run for its tables in a copy of the project, and that copy served by
 * `npm start` against real Postgres and Redis. Reads through the API equal
 * SQL (by id, to-one and to-many both ways, the join table, the self
 * reference); writes through the generic mutations are read back at once, and
 * writes made with plain SQL (another program) within a second.
 */

const run = promisify(execFile);
const FIXTURE = join(PROJECT_ROOT, 'test/fixtures/chinook');
const TABLES = ['artist', 'album', 'track', 'genre', 'media_type', 'playlist', 'playlist_track', 'employee', 'customer', 'invoice', 'invoice_line'];
/** Another program's write reaches the cache through the triggers, the outbox and the repair worker within about a second. */
const BYPASS_ALLOWANCE_MS = 1000;

let scratch: ScratchDatabase;
let copy: ProjectCopy;
let server: ServerProcess | undefined;
let sql: pg.Client;
let pulled = '';
/** Each table's file before the server applied the pulled migrations: a table rewritten would have a new one. */
let filenodes: { table: string; node: string }[] = [];
let filenodesStarted: { table: string; node: string }[] = [];
let typechecked: Promise<unknown>;
const prefix = uniquePrefix();

const pull = (tables: readonly string[]) =>
  run(process.execPath, ['--import', 'tsx', 'src/cli/pull.ts', ...tables], {
    cwd: copy.root,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: scratch.url },
  });

async function gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  return dataOf(await postGraphql<T>((server as ServerProcess).url, query, variables));
}

async function rows<T>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await sql.query(text, values)).rows as T[];
}

beforeAll(async () => {
  scratch = await createScratchDatabase('chinook');
  sql = new pg.Client({ connectionString: scratch.url, application_name: 'fg-chinook-psql' });
  await sql.connect();
  await sql.query(readFileSync(join(FIXTURE, 'schema.sql'), 'utf8'));
  await sql.query(readFileSync(join(FIXTURE, 'data.sql'), 'utf8'));
  copy = copyProject();
  pulled = (await pull(TABLES)).stdout;
  filenodes = await rows<{ table: string; node: string }>('select relname as table, pg_relation_filenode(oid)::text as node from pg_class where relname = any($1) order by relname', [TABLES]);
  // Checked while the server starts; the test below awaits it.
  copy.write('tsconfig.pulled.json', JSON.stringify({ extends: './tsconfig.json', include: ['src/entities', 'src/db/migrations'] }));
  typechecked = run(process.execPath, [join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.pulled.json'], { cwd: copy.root });
  typechecked.catch(() => undefined); // awaited (and its failure reported) by its test
  server = await spawnServer(
    { DATABASE_URL: scratch.urlFor('fg-chinook-server'), REDIS_URL, CACHE_PREFIX: prefix, LOG_LEVEL: 'error', MAX_COST: '1000000' },
    120_000,
    copy.root,
  );
  // Before any test changes a table (one adds a stored generated column, which does rewrite it).
  filenodesStarted = await rows<{ table: string; node: string }>('select relname as table, pg_relation_filenode(oid)::text as node from pg_class where relname = any($1) order by relname', [TABLES]);
}, 180_000);

afterAll(async () => {
  await server?.stop();
  copy?.remove();
  await sql?.end();
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await scratch?.drop();
}, 60_000);

describe('npm run pull on Chinook', () => {
  it('writes a definition, SDL and a version migration per table, and lists them', () => {
    expect(pulled).toContain('playlist_track: join table of Playlist and Track');
    expect(readFileSync(join(copy.root, 'src/entities/index.ts'), 'utf8')).toMatch(/export const ENTITIES = \[product, account, order, category, album, artist, customer, employee, genre, invoice, invoiceLine, mediaType, playlist, track\] as const;/);
    for (const file of ['src/entities/media-type.ts', 'schema/media-type.graphql', 'src/entities/playlist-track.ts', 'src/db/migrations/010-pull-album.ts']) {
      expect(existsSync(join(copy.root, file)), file).toBe(true);
    }
  });

  it('the files it wrote typecheck (tsx, which npm start runs, does not check types)', async () => {
    await typechecked;
  }, 60_000);

  it('pulling again writes nothing; after a column was added it updates the files and keeps hand edits', async () => {
    expect((await pull([])).stdout).toContain('nothing changed');
    // The rest runs pull in this process (src/pull/pull.ts, what the command runs), for time.
    const db = knexPkg.knex({ client: 'pg', connection: scratch.url, pool: { min: 0, max: 1 } });
    const file = join(copy.root, 'schema/genre.graphql');
    const mine = '"Genres, as the store files them."';
    copy.edit('schema/genre.graphql', /^"Rows of table genre[^\n]*"$/m, mine);
    await sql.query('alter table genre add column description text, add column name_length integer generated always as (length(name)) stored');
    try {
      const again = await pullTables(copy.root, db, ['genre']);
      expect(again.outputs.map((o) => o.path)).toEqual(['src/entities/genre.ts', 'schema/genre.graphql']);
      const sdl = readFileSync(file, 'utf8');
      expect(sdl).toContain(mine);
      expect(sdl).toMatch(/ {2}description: String\n/);
      expect(readFileSync(join(copy.root, 'src/entities/genre.ts'), 'utf8')).toContain('description: text().orNull(),');
      // A column the database computes is served, but no input sets it.
      expect(sdl).toMatch(/type Genre @key[^}]*\n {2}nameLength: Int\n/);
      expect(sdl).toMatch(/input NewGenre \{\n {2}genreId: ID!\n {2}name: String\n {2}description: String\n\}/);
      expect(sdl).toMatch(/input GenrePatch \{\n {2}name: String\n {2}description: String\n\}/);

      // The definition's mutations line is the user's: the SDL follows it.
      copy.edit('src/entities/genre.ts', ", delete: 'deleteGenre' }", ' }');
      await pullTables(copy.root, db, []);
      expect(readFileSync(file, 'utf8')).not.toContain('deleteGenre');
      expect(readFileSync(file, 'utf8')).toContain('updateGenre(id: ID!, patch: GenrePatch!, expectedVersion: Int): Genre!');

      copy.edit('src/entities/genre.ts', 'description: text().orNull(),', 'description: text().orNull(), // mine');
      await expect(pullTables(copy.root, db, ['genre'])).rejects.toThrow(/^src\/entities\/genre\.ts: the lines between "\/\/ pull:columns" and "\/\/ pull:end columns" were edited by hand/);
    } finally {
      // The server serves the definitions it started with, which read no such column.
      await sql.query('alter table genre drop column description, drop column name_length');
      await db.destroy();
    }
  });

  it('refuses, writing nothing, a table without a primary key, an unsupported type and a name taken, naming table, column and type', async () => {
    await sql.query(`create table play_log (track_id integer, played_at timestamptz);
      create table track_span (track_span_id integer primary key, span interval);
      create table product (product_id integer primary key, title text)`);
    const before = readFileSync(join(copy.root, 'src/entities/index.ts'), 'utf8');
    const refused = await pull(['play_log', 'track_span', 'product']).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain('pull refused, and wrote nothing');
    expect(refused?.stderr).toContain('table play_log: no primary key');
    expect(refused?.stderr).toContain('table track_span, column span: type interval is not supported');
    expect(refused?.stderr).toContain('table product: type Product collides with the type Product declared in schema/schema.graphql');
    expect(readFileSync(join(copy.root, 'src/entities/index.ts'), 'utf8')).toBe(before);
    expect(existsSync(join(copy.root, 'src/entities/track-span.ts'))).toBe(false);
  });
});

interface TrackOut {
  trackId: string;
  name: string;
  albumId: string | null;
  mediaTypeId: string;
  genreId: string | null;
  composer: string | null;
  milliseconds: number;
  bytes: number | null;
  unitPrice: string;
  version: number;
}

describe('served by npm start', () => {
  it('the pulled migrations added a version column to every entity table without rewriting one', async () => {
    expect(filenodesStarted).toEqual(filenodes);
    const versions = await rows<{ table: string }>("select table_name as table from information_schema.columns where column_name = 'version' and table_name = any($1) order by table_name", [TABLES]);
    expect(versions.map((v) => v.table)).toEqual(TABLES.filter((t) => t !== 'playlist_track').sort());
  });

  it('by id: every row of a table equals SQL, numeric as exact text, NULLs as null', async () => {
    const expected = await rows<TrackOut>(
      `select track_id::text as "trackId", name, album_id::text as "albumId", media_type_id::text as "mediaTypeId", genre_id::text as "genreId",
              composer, milliseconds, bytes, unit_price::text as "unitPrice", version
       from track order by track_id`,
    );
    const { tracks } = await gql<{ tracks: TrackOut[] }>(
      'query($ids: [ID!]!) { tracks(ids: $ids) { trackId name albumId mediaTypeId genreId composer milliseconds bytes unitPrice version } }',
      { ids: expected.map((t) => t.trackId) },
    );
    expect(tracks).toEqual(expected);
    expect(tracks.find((t) => t.trackId === '36')).toMatchObject({ albumId: null, genreId: null, bytes: null, unitPrice: '0.49' });

    const invoices = await rows<{ id: string; total: string; at: number }>('select invoice_id::text as id, total::text as total, extract(epoch from invoice_date)::float8 * 1000 as at from invoice order by invoice_id');
    const served = await gql<{ invoices: { invoiceId: string; total: string; invoiceDate: string }[] }>('query($ids: [ID!]!) { invoices(ids: $ids) { invoiceId total invoiceDate } }', { ids: invoices.map((i) => i.id) });
    expect(served.invoices.map((i) => ({ id: i.invoiceId, total: i.total, at: Date.parse(i.invoiceDate) }))).toEqual(invoices);
  });

  it('to-one and to-many both ways equal SQL, nullable foreign keys included', async () => {
    const artists = await rows<{ id: string; albums: string[] }>(
      'select a.artist_id::text as id, coalesce(array_agg(b.album_id::text order by b.album_id) filter (where b.album_id is not null), array[]::text[]) as albums from artist a left join album b using (artist_id) group by a.artist_id order by a.artist_id',
    );
    const served = await gql<{ artists: { artistId: string; albums: { totalCount: number; nodes: { albumId: string; artist: { artistId: string } }[] } }[] }>(
      'query($ids: [ID!]!) { artists(ids: $ids) { artistId albums(first: 100) { totalCount nodes { albumId artist { artistId } } } } }',
      { ids: artists.map((a) => a.id) },
    );
    expect(served.artists.map((a) => ({ id: a.artistId, albums: a.albums.nodes.map((n) => n.albumId) }))).toEqual(artists);
    for (const a of served.artists) {
      expect(a.albums.totalCount).toBe(a.albums.nodes.length);
      for (const album of a.albums.nodes) expect(album.artist.artistId).toBe(a.artistId);
    }

    const genres = await rows<{ id: string; tracks: string[] }>(
      'select g.genre_id::text as id, coalesce(array_agg(t.track_id::text order by t.track_id) filter (where t.track_id is not null), array[]::text[]) as tracks from genre g left join track t using (genre_id) group by g.genre_id order by g.genre_id',
    );
    const byGenre = await gql<{ genres: { genreId: string; tracks: { nodes: { trackId: string; genre: { genreId: string } | null }[] } }[] }>(
      'query($ids: [ID!]!) { genres(ids: $ids) { genreId tracks(first: 100) { nodes { trackId genre { genreId } } } } }',
      { ids: genres.map((g) => g.id) },
    );
    expect(byGenre.genres.map((g) => ({ id: g.genreId, tracks: g.tracks.nodes.map((t) => t.trackId) }))).toEqual(genres);
    const orphan = await gql<{ track: { album: unknown; genre: unknown; mediaType: { name: string } } }>('{ track(id: "36") { album { title } genre { name } mediaType { name } } }');
    expect(orphan.track).toEqual({ album: null, genre: null, mediaType: { name: 'AAC audio file' } });
  });

  it('the self reference: who an employee reports to, and who reports to them', async () => {
    const employees = await rows<{ id: string; boss: string | null; reports: string[]; customers: string[] }>(
      `select e.employee_id::text as id, e.reports_to::text as boss,
              array(select r.employee_id::text from employee r where r.reports_to = e.employee_id order by r.employee_id) as reports,
              array(select c.customer_id::text from customer c where c.support_rep_id = e.employee_id order by c.customer_id) as customers
       from employee e order by e.employee_id`,
    );
    const served = await gql<{ employees: { employeeId: string; reportsTo: { employeeId: string } | null; employeesByReportsTo: { nodes: { employeeId: string }[] }; customers: { nodes: { customerId: string }[] } }[] }>(
      'query($ids: [ID!]!) { employees(ids: $ids) { employeeId reportsTo { employeeId } employeesByReportsTo(first: 100) { nodes { employeeId } } customers(first: 100) { nodes { customerId } } } }',
      { ids: employees.map((e) => e.id) },
    );
    expect(
      served.employees.map((e) => ({
        id: e.employeeId,
        boss: e.reportsTo?.employeeId ?? null,
        reports: e.employeesByReportsTo.nodes.map((n) => n.employeeId),
        customers: e.customers.nodes.map((n) => n.customerId),
      })),
    ).toEqual(employees);
  });

  it('the join table: a playlist\'s tracks and a track\'s playlists equal SQL', async () => {
    const playlists = await rows<{ id: string; tracks: string[] }>(
      'select p.playlist_id::text as id, array(select pt.track_id::text from playlist_track pt where pt.playlist_id = p.playlist_id order by pt.track_id) as tracks from playlist p order by p.playlist_id',
    );
    const served = await gql<{ playlists: { playlistId: string; tracks: { totalCount: number; nodes: { trackId: string }[] } }[] }>(
      'query($ids: [ID!]!) { playlists(ids: $ids) { playlistId tracks(first: 100) { totalCount nodes { trackId } } } }',
      { ids: playlists.map((p) => p.id) },
    );
    expect(served.playlists.map((p) => ({ id: p.playlistId, tracks: p.tracks.nodes.map((t) => t.trackId) }))).toEqual(playlists);
    const onTrack = await rows<{ id: string }>('select playlist_id::text as id from playlist_track where track_id = 18 order by playlist_id');
    const track = await gql<{ track: { playlists: { nodes: { playlistId: string }[] } } }>('{ track(id: "18") { playlists(first: 100) { nodes { playlistId } } } }');
    expect(track.track.playlists.nodes.map((p) => p.playlistId)).toEqual(onTrack.map((r) => r.id));
  });

  it('writes through the generic mutations are read back at once, lists included, and are in the table', async () => {
    const artistsAlbums = '{ artist(id: "14") { albums(first: 100) { nodes { albumId title } } } }';
    await gql(artistsAlbums); // cached before the write
    const created = await gql<{ createAlbum: { albumId: string; version: number; artist: { name: string } } }>(
      'mutation { createAlbum(input: { albumId: "500", title: "Tattooed Millionaire", artistId: "14" }) { albumId version artist { name } } }',
    );
    expect(created.createAlbum).toEqual({ albumId: '500', version: 1, artist: { name: 'Bruce Dickinson' } });
    expect((await gql<{ artist: { albums: { nodes: { albumId: string }[] } } }>(artistsAlbums)).artist.albums.nodes.map((n) => n.albumId)).toEqual(['18', '500']);

    await gql('{ track(id: "35") { unitPrice version } }');
    const updated = await gql<{ updateTrack: { unitPrice: string; version: number } }>('mutation { updateTrack(id: "35", patch: { unitPrice: "1.29", albumId: "500" }, expectedVersion: 1) { unitPrice version } }');
    expect(updated.updateTrack).toEqual({ unitPrice: '1.29', version: 2 });
    expect(await gql('{ track(id: "35") { unitPrice version album { albumId } } }')).toEqual({ track: { unitPrice: '1.29', version: 2, album: { albumId: '500' } } });
    expect(await rows('select unit_price::text as price, album_id, version from track where track_id = 35')).toEqual([{ price: '1.29', album_id: 500, version: 2 }]);
    expect((await gql<{ album: { tracks: { nodes: { trackId: string }[] } } }>('{ album(id: "500") { tracks(first: 10) { nodes { trackId } } } }')).album.tracks.nodes).toEqual([{ trackId: '35' }]);

    const conflict = await postGraphql((server as ServerProcess).url, 'mutation { updateTrack(id: "35", patch: { name: "x" }, expectedVersion: 1) { version } }');
    expect(codesOf(conflict)).toEqual(['VERSION_CONFLICT']);
    const taken = await postGraphql((server as ServerProcess).url, 'mutation { createArtist(input: { artistId: "1", name: "Again" }) { artistId } }');
    expect(codesOf(taken)).toEqual(['ALREADY_EXISTS']);
    const dangling = await postGraphql((server as ServerProcess).url, 'mutation { createAlbum(input: { albumId: "501", title: "x", artistId: "999" }) { albumId } }');
    expect(codesOf(dangling)).toEqual(['BAD_USER_INPUT']);
    const inUse: GqlResponse = await postGraphql((server as ServerProcess).url, 'mutation { deleteArtist(id: "1") }');
    expect(codesOf(inUse)).toEqual(['IN_USE']);

    // Moving an employee to another manager changes both managers' lists at once.
    const reportsOf = async (id: string) =>
      (await gql<{ employee: { employeesByReportsTo: { nodes: { employeeId: string }[] } } }>(`{ employee(id: "${id}") { employeesByReportsTo(first: 100) { nodes { employeeId } } } }`)).employee.employeesByReportsTo.nodes.map((n) => n.employeeId);
    expect(await reportsOf('6')).toEqual(['7', '8']);
    expect(await reportsOf('2')).toEqual(['3', '4', '5']);
    await gql('mutation { updateEmployee(id: "8", patch: { reportsToId: "2" }) { version } }');
    expect(await reportsOf('6')).toEqual(['7']);
    expect(await reportsOf('2')).toEqual(['3', '4', '5', '8']);
  });

  it('writes made with plain SQL, as another program makes them, are served within a second', async () => {
    const read = () => gql<{ track: { name: string; version: number } }>('{ track(id: "2") { name version } }');
    expect((await read()).track).toEqual({ name: 'Balls to the Wall', version: 1 });
    await sql.query("update track set name = 'Balls to the Wall (Remastered)' where track_id = 2");
    const seen = await waitFor('the SQL update served', read, (r) => r.track?.name === 'Balls to the Wall (Remastered)', BYPASS_ALLOWANCE_MS, 25);
    expect(seen.track.version).toBe(2);

    const playlistTracks = () => gql<{ playlist: { tracks: { nodes: { trackId: string }[] } } }>('{ playlist(id: "7") { tracks(first: 100) { nodes { trackId } } } }');
    const trackPlaylists = () => gql<{ track: { playlists: { nodes: { playlistId: string }[] } } }>('{ track(id: "27") { playlists(first: 100) { nodes { playlistId } } } }');
    expect((await playlistTracks()).playlist.tracks.nodes.map((n) => n.trackId)).toEqual(['20', '21']);
    expect((await trackPlaylists()).track.playlists.nodes).toEqual([]);
    await sql.query('insert into playlist_track (playlist_id, track_id) values (7, 27)');
    await waitFor('the join row on the playlist', playlistTracks, (r) => r.playlist?.tracks.nodes.map((n) => n.trackId).join() === '20,21,27', BYPASS_ALLOWANCE_MS, 25);
    await waitFor('the join row on the track', trackPlaylists, (r) => r.track?.playlists.nodes.map((n) => n.playlistId).join() === '7', BYPASS_ALLOWANCE_MS, 25);

    const albums = () => gql<{ artist: { albums: { nodes: { albumId: string }[] } } }>('{ artist(id: "13") { albums(first: 100) { nodes { albumId } } } }');
    expect((await albums()).artist.albums.nodes.map((n) => n.albumId)).toEqual(['17']);
    await sql.query("insert into album (album_id, title, artist_id) values (600, 'Born Dead', 13)");
    await waitFor('the inserted album in its artist\'s list', albums, (r) => r.artist?.albums.nodes.map((n) => n.albumId).join() === '17,600', BYPASS_ALLOWANCE_MS, 25);
    expect(await gql('{ album(id: "600") { title version artist { artistId } } }')).toEqual({ album: { title: 'Born Dead', version: 1, artist: { artistId: '13' } } });

    const line = () => gql<{ invoiceLine: { unitPrice: string } | null }>('{ invoiceLine(id: "29") { unitPrice } }');
    expect((await line()).invoiceLine).toEqual({ unitPrice: '0.99' });
    await sql.query('delete from invoice_line where invoice_line_id = 29');
    await waitFor('the deleted invoice line', line, (r) => r.invoiceLine === null, BYPASS_ALLOWANCE_MS, 25);
  });
});
