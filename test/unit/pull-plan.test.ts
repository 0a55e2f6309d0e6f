import { describe, expect, it } from 'vitest';
import type { CatalogColumn, CatalogTable } from '../../src/db/catalog.js';
import { camelCase, pascalCase, plural, singular } from '../../src/pull/naming.js';
import { planPull, PullRefusal, type EntityPlan, type Existing, type JoinPlan } from '../../src/pull/plan.js';
import { mergeFile, region, RegionEdited, renderFile } from '../../src/pull/regions.js';

/** `npm run pull`'s planner on catalogs built by hand; test/e2e/pull-chinook.test.ts runs it on a real database. */

const col = (name: string, type: string, more: Partial<CatalogColumn> = {}): CatalogColumn => ({
  name,
  type,
  array: false,
  nullable: false,
  hasDefault: false,
  generated: false,
  enumLabels: undefined,
  ...more,
});
const fk = (column: string, references: string, referenced: string, onDelete = 'a') => ({ columns: [column], references, referencedColumns: [referenced], onDelete });
const table = (name: string, columns: CatalogColumn[], primaryKey: string[], more: Partial<CatalogTable> = {}): CatalogTable => ({
  name,
  columns,
  primaryKey,
  unique: [],
  foreignKeys: [],
  ...more,
});
const NOTHING: Existing = { types: new Map(), queryFields: new Map(), mutationFields: new Map(), tables: new Map(), variables: new Set() };
const catalogOf = (...tables: CatalogTable[]) => new Map(tables.map((t) => [t.name, t]));

const CHINOOK_SLICE = catalogOf(
  table('artist', [col('artist_id', 'int4'), col('name', 'varchar', { nullable: true })], ['artist_id']),
  table('album', [col('album_id', 'int4'), col('title', 'varchar'), col('artist_id', 'int4')], ['album_id'], { foreignKeys: [fk('artist_id', 'artist', 'artist_id')] }),
  table('track', [col('track_id', 'int4'), col('name', 'varchar'), col('album_id', 'int4', { nullable: true }), col('unit_price', 'numeric'), col('media_type_id', 'int4')], ['track_id'], {
    foreignKeys: [fk('album_id', 'album', 'album_id'), fk('media_type_id', 'media_type', 'media_type_id')],
  }),
  table('employee', [col('employee_id', 'int4'), col('reports_to', 'int4', { nullable: true }), col('email', 'varchar')], ['employee_id'], {
    foreignKeys: [fk('reports_to', 'employee', 'employee_id', 'n')],
    unique: [['email']],
  }),
  table('playlist', [col('playlist_id', 'int4'), col('name', 'varchar', { nullable: true })], ['playlist_id']),
  table('playlist_track', [col('playlist_id', 'int4'), col('track_id', 'int4')], ['playlist_id', 'track_id'], {
    foreignKeys: [fk('playlist_id', 'playlist', 'playlist_id'), fk('track_id', 'track', 'track_id')],
  }),
);

const entity = (plans: ReturnType<typeof planPull>, type: string): EntityPlan => plans.find((p): p is EntityPlan => p.kind === 'entity' && p.type === type) as EntityPlan;
const refusalsOf = (run: () => unknown): readonly string[] => {
  try {
    run();
  } catch (err) {
    if (err instanceof PullRefusal) return err.reasons;
    throw err;
  }
  throw new Error('pull did not refuse');
};

describe('names', () => {
  it('are PascalCase singular types and camelCase fields', () => {
    expect(pascalCase(singular('media_type'))).toBe('MediaType');
    expect(pascalCase(singular('invoices'))).toBe('Invoice');
    expect(pascalCase(singular('categories'))).toBe('Category');
    expect(pascalCase(singular('addresses'))).toBe('Address');
    expect(camelCase('unit_price')).toBe('unitPrice');
    expect(plural('invoiceLine')).toBe('invoiceLines');
    expect(plural('category')).toBe('categories');
    expect(plural('box')).toBe('boxes');
  });
});

describe('planPull', () => {
  const plans = planPull(CHINOOK_SLICE, ['album', 'artist', 'employee', 'playlist', 'playlist_track', 'track'], NOTHING);

  it('keys under their own names, served as ID; numeric as exact decimal text; a version column to add', () => {
    const track = entity(plans, 'Track');
    expect(track.key.field).toBe('trackId');
    expect(track.key.expression).toBe('asId(int())');
    expect(track.fields.find((f) => f.column === 'unit_price')).toMatchObject({ field: 'unitPrice', expression: 'numeric()', graphql: 'Decimal' });
    expect(track.version).toMatchObject({ column: 'version', expression: 'int()' });
    expect(track.addsVersion).toBe(true);
    expect(track.fields.at(-1)).toBe(track.version);
  });

  it('a foreign key to a pulled table is a to-one relation and, on the other side, a to-many; to a table not pulled, a plain column', () => {
    const track = entity(plans, 'Track');
    expect(track.relations).toEqual([{ field: 'album', to: 'Album', by: 'albumId', nullable: true }]);
    expect(track.fields.find((f) => f.column === 'album_id')?.expression).toBe('asId(int()).orNull()');
    expect(track.fields.find((f) => f.column === 'media_type_id')).toMatchObject({ field: 'mediaTypeId', expression: 'int()', graphql: 'Int' });
    expect(entity(plans, 'Album').lists).toEqual([{ kind: 'foreign-key', field: 'tracks', of: 'Track', by: 'albumId', onDelete: 'restrict' }]);
    expect(entity(plans, 'Artist').lists.map((l) => l.field)).toEqual(['albums']);
  });

  it('a self reference gives both directions, following ON DELETE SET NULL', () => {
    const employee = entity(plans, 'Employee');
    expect(employee.fields.find((f) => f.column === 'reports_to')?.expression).toBe("asId(int()).as('reports_to').orNull()");
    expect(employee.relations).toEqual([{ field: 'reportsTo', to: 'Employee', by: 'reportsToId', nullable: true }]);
    expect(employee.lists).toEqual([{ kind: 'foreign-key', field: 'employeesByReportsTo', of: 'Employee', by: 'reportsToId', onDelete: 'set-null' }]);
    expect(employee.lookups).toEqual([{ field: 'email', root: 'employeeByEmail' }]);
  });

  it('a join table (two foreign keys forming the primary key) is a many-to-many both ways', () => {
    const join = plans.find((p): p is JoinPlan => p.kind === 'join');
    expect(join?.sides.map((s) => [s.side, s.column, s.type])).toEqual([
      ['playlist', 'playlist_id', 'Playlist'],
      ['track', 'track_id', 'Track'],
    ]);
    expect(entity(plans, 'Playlist').lists).toMatchObject([{ kind: 'join', field: 'tracks', of: 'Track', from: 'playlist', to: 'track' }]);
    expect(entity(plans, 'Track').lists).toMatchObject([{ kind: 'join', field: 'playlists', of: 'Playlist', from: 'track', to: 'playlist' }]);
    expect(entity(plans, 'Track').connection).toBe(true);
  });

  it('refuses a table without a primary key, an unsupported type and a name taken, naming table, column and type', () => {
    const catalog = catalogOf(
      table('audit_log', [col('at', 'timestamptz')], []),
      table('span', [col('id', 'int4'), col('length', 'interval')], ['id']),
      table('products', [col('id', 'int4')], ['id']),
      table('blob_key', [col('id', 'bytea')], ['id']),
    );
    const existing: Existing = { ...NOTHING, types: new Map([['Product', 'schema/schema.graphql']]), queryFields: new Map([['product', 'schema/schema.graphql']]) };
    const reasons = refusalsOf(() => planPull(catalog, ['audit_log', 'span', 'products', 'blob_key', 'missing'], existing));
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^table audit_log: no primary key/),
        expect.stringMatching(/^table span, column length: type interval is not supported/),
        'table products: type Product collides with the type Product declared in schema/schema.graphql',
        'table products: field Query.product collides with the field Query.product declared in schema/schema.graphql',
        expect.stringMatching(/^table blob_key, column id: the primary key is of type bytea/),
        expect.stringMatching(/^table missing: no such table/),
      ]),
    );
  });

  it('refuses a join table whose other side is not pulled, and a table already served by a hand-written definition', () => {
    expect(refusalsOf(() => planPull(CHINOOK_SLICE, ['playlist', 'playlist_track'], NOTHING))).toEqual([expect.stringMatching(/^table playlist_track: a join table whose column track_id references track, which is not pulled/)]);
    const existing: Existing = { ...NOTHING, tables: new Map([['artist', 'src/entities/artist.ts']]) };
    expect(refusalsOf(() => planPull(CHINOOK_SLICE, ['artist'], existing))).toEqual(['table artist: already served by src/entities/artist.ts, which pull did not write']);
  });
});

describe('regions', () => {
  const parts = (columns: string[]) => ['// Written by `npm run pull` from table t. ...', 'export const t = {', region('columns', columns, '  '), '};'];

  it('rewrites what lies between the markers and keeps every other line', () => {
    const first = renderFile('//', parts(['a: int(),']));
    const edited = `${first.replace('export const t = {', '/** Mine. */\nexport const t = {')}// mine too\n`;
    const merged = mergeFile('t.ts', '//', edited, parts(['a: int(),', 'b: text(),']));
    expect(merged).toContain('/** Mine. */');
    expect(merged).toContain('// mine too');
    expect(merged).toContain('  b: text(),');
    expect(mergeFile('t.ts', '//', merged, parts(['a: int(),', 'b: text(),']))).toBe(merged);
  });

  it('refuses a region edited by hand, naming the file', () => {
    const first = renderFile('#', parts(['a: Int!']));
    expect(() => mergeFile('schema/t.graphql', '#', first.replace('a: Int!', 'a: Int! # mine'), parts(['a: Int!']))).toThrow(RegionEdited);
    expect(() => mergeFile('schema/t.graphql', '#', first.replace('a: Int!', 'a: Int! # mine'), parts(['a: Int!']))).toThrow(/^schema\/t\.graphql: the lines between "# pull:columns"/);
  });
});
