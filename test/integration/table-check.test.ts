import { randomBytes } from 'node:crypto';
import knexPkg, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { readCatalog } from '../../src/db/catalog.js';
import { asId, bigint, defineEntity, defineJoinTable, enumOf, int, numeric, text, through, timestamp, uuid } from '../../src/entities/define.js';
import { resolveLists } from '../../src/entities/lists.js';
import { checkEntitiesAgainstTables } from '../../src/table-check.js';
import { startTestApp } from '../helpers/app.js';
import { createScratchDatabase } from '../helpers/scratch-database.js';

/** Start-up refuses a definition that disagrees with its table (Postgres' catalog), naming both sides. */

let db: Knex;
const tag = randomBytes(3).toString('hex');
const widgets = `tc_widgets_${tag}`;
const parts = `tc_parts_${tag}`;
const links = `tc_links_${tag}`;
const mood = `tc_mood_${tag}`;

beforeAll(async () => {
  db = knexPkg.knex({ client: 'pg', connection: inject('databaseUrl'), pool: { min: 0, max: 1 } });
  await db.raw(`create type ${mood} as enum ('sad', 'ok', 'happy')`);
  await db.raw(`create table ${widgets} (widget_id bigint primary key, name varchar(40) not null, price numeric, mood ${mood} not null, version integer not null default 1, updated_at timestamptz not null default now())`);
  await db.raw(`create table ${parts} (id uuid primary key, label text not null, version integer not null default 1)`);
  await db.raw(`create table ${links} (widget_id bigint not null references ${widgets}, part_id uuid not null references ${parts}, primary key (widget_id, part_id))`);
});
afterAll(async () => {
  await db?.raw(`drop table if exists ${links}, ${parts}, ${widgets}`);
  await db?.raw(`drop type if exists ${mood}`);
  await db?.destroy();
});

const widget = (columns: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  defineEntity({
    type: 'Widget',
    table: widgets,
    key: 'widgetId',
    columns: {
      widgetId: asId(bigint()),
      name: text(undefined, 'varchar'),
      price: numeric().orNull(),
      mood: enumOf(mood, ['sad', 'ok', 'happy'], 'Mood'),
      version: int(),
      updatedAt: timestamp(),
      ...columns,
    } as Parameters<typeof defineEntity>[0]['columns'],
    ...extra,
  });
const part = defineEntity({ type: 'Part', table: parts, columns: { id: uuid(), label: text(), version: int() } });

const check = async (entities: Parameters<typeof checkEntitiesAgainstTables>[0], lists: Parameters<typeof checkEntitiesAgainstTables>[1] = []) =>
  checkEntitiesAgainstTables(entities, lists, await readCatalog(db, [widgets, parts, links]));

describe('the server at start', () => {
  it('does not start on a database whose table disagrees with a definition, and says which and why', async () => {
    const scratch = await createScratchDatabase('tablecheck');
    try {
      const admin = knexPkg.knex({ client: 'pg', connection: scratch.url, pool: { min: 0, max: 1 } });
      await admin.raw('alter table categories rename column slug to handle');
      await admin.destroy();
      await expect(startTestApp({ DATABASE_URL: scratch.url })).rejects.toThrow(
        /entity Category \(src\/entities\/\) and table categories disagree: slug reads column slug, which categories does not have/,
      );
    } finally {
      await scratch.drop();
    }
  });
});

describe('definitions against the tables', () => {
  it('accepts definitions that read their tables as they are: a bigint key under its own name, varchar, numeric, an enum, a join table', async () => {
    const join = defineJoinTable({ table: links, sides: { widget: { column: 'widget_id', type: 'Widget' }, part: { column: 'part_id', type: 'Part' } } });
    const linked = widget({}, { lists: { parts: through(join, { from: 'widget', to: 'part', order: [] }) } });
    const all = [linked, part];
    await expect(check(all, resolveLists(all))).resolves.toBeUndefined();
  });

  it('refuses a column the table does not have, naming both', async () => {
    await expect(check([widget({ colour: text() })])).rejects.toThrow(
      new RegExp(`entity Widget \\(src/entities/\\) and table ${widgets} disagree: colour reads column colour, which ${widgets} does not have`),
    );
  });

  it('refuses a type the column does not have: integer for bigint, text for varchar, other enum labels', async () => {
    await expect(check([widget({ widgetId: asId(int()) })])).rejects.toThrow(/widgetId reads widget_id as int4, but the column is int8/);
    await expect(check([widget({ name: text() })])).rejects.toThrow(/name reads name as text, but the column is varchar/);
    await expect(check([widget({ mood: enumOf(mood, ['sad', 'happy'], 'Mood') })])).rejects.toThrow(/its labels are \["sad","ok","happy"\]/);
  });

  it('refuses a non-null field on a column that may be NULL, and a key that is not the primary key', async () => {
    await expect(check([widget({ price: numeric() })])).rejects.toThrow(/price may be NULL, but price does not allow it/);
    const rekeyed = defineEntity({ type: 'Part', table: parts, key: 'label', columns: { id: uuid(), label: asId(text()), version: int() } });
    await expect(check([rekeyed])).rejects.toThrow(/the key label is column label, but the primary key is \(id\)/);
  });

  it('refuses a table that does not exist, and a join table whose column holds another key type', async () => {
    await expect(check([defineEntity({ type: 'Ghost', table: `tc_ghost_${tag}`, columns: { id: uuid(), version: int() } })])).rejects.toThrow(/there is no table/);
    const wrong = defineJoinTable({ table: links, sides: { widget: { column: 'part_id', type: 'Widget' }, part: { column: 'widget_id', type: 'Part' } } });
    const linked = widget({}, { lists: { parts: through(wrong, { from: 'widget', to: 'part', order: [] }) } });
    await expect(check([linked, part], resolveLists([linked, part]))).rejects.toThrow(/join table .* disagree: part_id is uuid, but the key it holds is int8/);
  });
});
