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

describe('planPull, the rest of the catalog', () => {
  const catalog = catalogOf(
    table(
      'ticket',
      [
        col('ticket_id', 'int8', { hasDefault: true, generated: true }),
        col('mood', 'mood', { enumLabels: ['calm', 'in a hurry'] }),
        col('tags', 'text', { array: true, nullable: true }),
        col('opened_at', 'timestamptz', { hasDefault: true }),
        col('code', 'text'),
        col('version', 'int4', { hasDefault: true }),
      ],
      ['ticket_id'],
      { unique: [['code']] },
    ),
  );
  const [ticket] = planPull(catalog, ['ticket'], NOTHING) as EntityPlan[];

  it('a bigint key with a sequence, an enum, an array, a timestamptz and a version of its own', () => {
    expect(ticket?.fields.map((f) => [f.field, f.expression, f.graphql])).toEqual([
      ['ticketId', 'asId(bigint())', 'ID'],
      ['mood', "enumOf('mood', ['calm', 'in a hurry'], 'Mood')", 'Mood'],
      ['tags', 'arrayOf(text()).orNull()', '[String]'],
      ['openedAt', 'timestamp()', 'DateTime'],
      ['code', 'text()', 'String'],
      ['version', 'int()', 'Int'],
    ]);
    expect(ticket?.addsVersion).toBe(false);
    expect(ticket?.enums).toEqual([{ type: 'mood', graphql: 'Mood', labels: ['calm', 'in a hurry'], file: 'enum-mood' }]);
    expect(ticket?.lookups).toEqual([{ field: 'code', root: 'ticketByCode' }]);
  });

  it('the SDL leaves a key the database chooses out of the create input, and a column with a default optional', async () => {
    const { sdlParts, enumParts } = await import('../../src/pull/render.js');
    const sdl = renderFile('#', sdlParts(ticket as EntityPlan));
    expect(sdl).toMatch(/input NewTicket \{\n {2}mood: Mood!\n {2}tags: \[String\]\n {2}openedAt: DateTime\n {2}code: String!\n\}/);
    expect(sdl).toContain('ticketByCode(code: String!): Ticket');
    expect(renderFile('#', enumParts((ticket as EntityPlan).enums[0] as EntityPlan['enums'][number]))).toContain('enum Mood {\n  CALM\n  IN_A_HURRY\n}');
  });

  it('refuses a version that is not integer NOT NULL, a name that is not plain lower case, and a two-column key that is not a join table', () => {
    const bad = catalogOf(
      table('rev', [col('rev_id', 'int4'), col('version', 'text')], ['rev_id']),
      table('shout', [col('shout_id', 'int4'), col('LOUD', 'text')], ['shout_id']),
      table('pair', [col('a', 'int4'), col('b', 'int4')], ['a', 'b']),
    );
    expect(refusalsOf(() => planPull(bad, ['pair', 'rev', 'shout'], NOTHING))).toEqual([
      expect.stringMatching(/^table pair: its primary key \(a, b\) has 2 columns/),
      expect.stringMatching(/^table rev, column version: freshgraph keeps the row version in an integer NOT NULL column named version, but this one is text/),
      expect.stringMatching(/^table shout, column LOUD: not a plain lower-case SQL name/),
    ]);
  });
});

describe('planPull, two foreign keys to one table', () => {
  it('names each list after its relation, and follows ON DELETE CASCADE', () => {
    const catalog = catalogOf(
      table('account', [col('account_id', 'uuid')], ['account_id']),
      table('transfer', [col('transfer_id', 'uuid'), col('from_account_id', 'uuid'), col('to_account_id', 'uuid', { nullable: true })], ['transfer_id'], {
        foreignKeys: [fk('from_account_id', 'account', 'account_id', 'c'), fk('to_account_id', 'account', 'account_id')],
      }),
    );
    const plans = planPull(catalog, ['account', 'transfer'], NOTHING);
    expect(entity(plans, 'Transfer').relations.map((r) => r.field)).toEqual(['fromAccount', 'toAccount']);
    expect(entity(plans, 'Transfer').key.expression).toBe('uuid()');
    expect(entity(plans, 'Account').lists).toEqual([
      { kind: 'foreign-key', field: 'transfersByFromAccount', of: 'Transfer', by: 'fromAccountId', onDelete: 'cascade' },
      { kind: 'foreign-key', field: 'transfersByToAccount', of: 'Transfer', by: 'toAccountId', onDelete: 'restrict' },
    ]);
  });
});
