import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeySpace } from '../../src/cache/keys.js';
import { newId } from '../../src/ids.js';
import { NON_FINITE_FLOATS, SAMPLE_VALUES, type SampleValue } from '../fixtures/type-sample-values.js';
import { SAMPLE_TYPES } from '../fixtures/type-samples.js';
import { codesOf, dataOf, postGraphql } from '../helpers/app.js';
import { startFastAndSlow } from '../helpers/fast-and-slow.js';
import { startTypeSamplesApp, type TypeSamplesApp } from '../helpers/type-samples-app.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Every column type, exact in both directions (test/fixtures/type-samples.ts
 * declares a table with one column of each, NOT NULL and nullable, and an
 * array of each). Each value is written by another program and read cold
 * (Postgres), warm (the envelope in Redis), through the fast path and its
 * shortcut, all byte for byte as the slow path serves it; written through the
 * create and update mutations and read back from Postgres' own output; and
 * changed by SQL and read from the cache once the trigger's repair refilled
 * it. Bad inputs are refused naming the field, and change nothing.
 */

type Server = ReturnType<TypeSamplesApp['createServer']>;

let app: TypeSamplesApp;
let fast: Server;
let slow: Server;
/** Another program: every value as the text Postgres' output function writes, in a UTC session. */
let raw: pg.Client;
let executions: () => number;


beforeAll(async () => {
  app = await startTypeSamplesApp();
  const { deps } = app.running;
  ({ fast, slow, executions } = await startFastAndSlow((fastPath) => app.createServer({ logger: deps.logger, createContext: deps.createContext, fastPath })));
  raw = new pg.Client({
    connectionString: app.running.deps.config.databaseUrl,
    // The database itself is set to other forms (type-samples-app.ts): this client asks for the plain ones.
    options: '-c TimeZone=UTC -c DateStyle=ISO,MDY -c extra_float_digits=1',
    types: { getTypeParser: () => (text: string) => text },
  });
  await raw.connect();
}, 120_000);

afterAll(async () => {
  await raw?.end();
  await Promise.all([fast?.stop(), slow?.stop()]);
  await app?.close();
}, 60_000);

const keys = () => createKeySpace(app.prefix);
const snake = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const ddlOf = (field: string): string => {
  const base = SAMPLE_TYPES.find((t) => field === t.name || field === `${t.name}Req` || field === `${t.name}List`);
  if (base === undefined) throw new Error(`no sample type for ${field}`);
  return field.endsWith('List') ? `${base.ddl}[]` : base.ddl;
};

/** The NOT NULL twin of each type, with its first ordinary value. */
const REQUIRED: readonly SampleValue[] = SAMPLE_TYPES.map((t) => {
  const first = SAMPLE_VALUES.find((s) => s.field === t.name && s.pg !== null) as SampleValue;
  return { ...first, field: `${t.name}Req` };
});
/** NULL in every nullable column, and in every array column. */
const NULLS: readonly SampleValue[] = SAMPLE_TYPES.flatMap((t) => [t.name, `${t.name}List`])
  .filter((field) => field !== 'int2')
  .map((field) => ({ field, pg: null, served: null }));
const ALL_VALUES = [...SAMPLE_VALUES, ...REQUIRED, ...NULLS];

async function insertRow(field: string, literal: string | null): Promise<string> {
  const id = newId();
  await app.sql.raw(`insert into type_samples (id, ${snake(field)}) values (?, ?::${ddlOf(field)})`, [id, literal]);
  return id;
}

/** What Postgres' output function writes for the field's column of a row. */
async function pgText(field: string, id: string): Promise<string | null> {
  const { rows } = await raw.query<{ value: string | null }>(`select ${snake(field)} as value from type_samples where id = $1`, [id]);
  return rows[0]?.value ?? null;
}

const readQuery = (field: string) => `query($id: ID!) { typeSample(id: $id) { id version ${field} } }`;

async function execute(server: Server, query: string, variables: Record<string, unknown>) {
  const context = app.running.deps.createContext();
  const res = await server.apollo.executeOperation({ query, variables }, { contextValue: context });
  if (res.body.kind !== 'single') throw new Error('expected a single result');
  return { text: JSON.stringify(res.body.singleResult), stats: { ...context.loaders.stats } };
}

interface Stored {
  readonly v: number;
  readonly data: Record<string, unknown>;
}

async function envelopeOf(id: string, type = 'TypeSample'): Promise<Stored | undefined> {
  const stored = await app.redis.get(keys().entity(type, id));
  const envelope = stored === null ? undefined : app.parseEnvelope<Record<string, unknown>>(stored);
  return envelope?.data ? { v: envelope.v, data: envelope.data } : undefined;
}

const waitForEnvelope = async (id: string, version: number, type = 'TypeSample'): Promise<Stored> =>
  (await waitFor(`the envelope of ${type} ${id} at version ${version}`, () => envelopeOf(id, type), (e) => e !== undefined && e.v >= version, 5_000, 20)) as Stored;

/** The fast path serves scalar fields only: enums and lists are left to execution (src/fast-path/plan.ts). */
const fastPathServes = (field: string): boolean => !field.endsWith('List') && !field.startsWith('mood');

async function post(body: unknown): Promise<string> {
  const res = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.text();
}

const label = (s: SampleValue) => `${s.field} = ${s.pg === null ? 'NULL' : JSON.stringify(s.pg).slice(0, 60)}`;

describe('every column type, written by another program, read exactly', () => {
  it.each(ALL_VALUES.map((s) => [label(s), s] as const))('%s: cold, warm from the envelope, the fast path and the shortcut', async (_, s) => {
    const id = await insertRow(s.field, s.literal ?? s.pg);
    expect(await pgText(s.field, id)).toBe(s.pg);
    const expected = JSON.stringify({ data: { typeSample: { id, version: 1, [s.field]: s.served } } });

    // The trigger's repair fills the cache with the new row on its own: once it has, drop it, for a read from Postgres.
    await waitForEnvelope(id, 1);
    await app.redis.del(keys().entity('TypeSample', id));
    const cold = await execute(slow, readQuery(s.field), { id });
    expect(cold.text).toBe(expected);
    expect(cold.stats).toMatchObject({ misses: 1, sourceLoads: 1 });

    const envelope = await waitForEnvelope(id, 1);
    expect(JSON.stringify(envelope.data[s.field])).toBe(JSON.stringify(s.served));
    const warm = await execute(slow, readQuery(s.field), { id });
    expect(warm.text).toBe(expected);
    expect(warm.stats).toMatchObject({ hits: 1, misses: 0, sourceLoads: 0 });

    const before = executions();
    const viaFastPath = await execute(fast, readQuery(s.field), { id });
    expect(viaFastPath.text).toBe(expected);
    expect(executions() > before).toBe(!fastPathServes(s.field));

    // By ids and through _entities too: the same bytes from both servers, and from the fast path where it serves.
    for (const [query, variables] of [
      [`query($ids: [ID!]!) { typeSamples(ids: $ids) { id ${s.field} } }`, { ids: [id, id] }],
      [`query($r: [_Any!]!) { _entities(representations: $r) { ... on TypeSample { id ${s.field} } } }`, { r: [{ __typename: 'TypeSample', id }] }],
    ] as const) {
      const executed = executions();
      const fastAnswer = await execute(fast, query, variables);
      expect(fastAnswer.text).toBe((await execute(slow, query, variables)).text);
      expect(fastAnswer.text).toContain(JSON.stringify({ id, [s.field]: s.served }));
      expect(executions() > executed).toBe(!fastPathServes(s.field));
    }

    // Over HTTP: the first answer teaches the shortcut, the second is its own.
    const body = { query: readQuery(s.field), variables: { id } };
    const first = await post(body);
    const shortcutsBefore = app.running.server.shortcutAnswers();
    const second = await post(body);
    expect(JSON.parse(first)).toEqual(JSON.parse(expected));
    expect(second).toBe(first);
    expect(app.running.server.shortcutAnswers() > shortcutsBefore).toBe(fastPathServes(s.field));
  });
});

describe('every column type, written through the mutations, stored exactly', () => {
  const writable = ALL_VALUES.filter((s) => s.writable !== false);
  it.each(writable.map((s) => [label(s), s] as const))('%s: create and update store what Postgres would, and serve it from the cache at once', async (_, s) => {
    const input = s.input !== undefined ? s.input : s.served;
    const created = await postGraphql<{ createTypeSample: Record<string, unknown> }>(
      app.url,
      `mutation($input: NewTypeSample!) { createTypeSample(input: $input) { id version ${s.field} } }`,
      { input: { [s.field]: input } },
    );
    const row = dataOf(created).createTypeSample;
    expect(row).toEqual({ id: row['id'], version: 1, [s.field]: s.served });
    const createdId = String(row['id']);
    expect(await pgText(s.field, createdId)).toBe(s.pgWritten ?? s.pg);

    // An update of a row that held NULL (or the column's default).
    const id = await insertRow('int4', '1');
    await execute(slow, readQuery(s.field), { id });
    await waitForEnvelope(id, 1);
    const updated = await postGraphql<{ updateTypeSample: Record<string, unknown> }>(
      app.url,
      `mutation($id: ID!, $patch: TypeSamplePatch!) { updateTypeSample(id: $id, patch: $patch) { id version ${s.field} } }`,
      { id, patch: { [s.field]: input } },
    );
    const expected = { id, version: 2, [s.field]: s.served };
    expect(dataOf(updated).updateTypeSample).toEqual(expected);
    expect(await pgText(s.field, id)).toBe(s.pgWritten ?? s.pg);
    const envelope = await envelopeOf(id);
    expect(envelope?.v).toBe(2);
    expect(JSON.stringify(envelope?.data[s.field])).toBe(JSON.stringify(s.served));
    const warm = await execute(slow, readQuery(s.field), { id });
    expect(warm.text).toBe(JSON.stringify({ data: { typeSample: expected } }));
    expect(warm.stats).toMatchObject({ hits: 1, sourceLoads: 0 });
  });
});

describe('every column type, changed by another program, repaired into the cache exactly', () => {
  it.each(ALL_VALUES.map((s) => [label(s), s] as const))('%s: the trigger\'s repair writes what the slow path serves', async (_, s) => {
    const id = await insertRow('int4', '1');
    await execute(slow, readQuery(s.field), { id });
    await waitForEnvelope(id, 1);
    await app.sql.raw(`update type_samples set ${snake(s.field)} = ?::${ddlOf(s.field)} where id = ?`, [s.literal ?? s.pg, id]);
    const envelope = await waitForEnvelope(id, 2);
    expect(JSON.stringify(envelope.data[s.field])).toBe(JSON.stringify(s.served));
    // A key the repair found behind is read from Postgres until its pass ends: wait for the cache to answer.
    const warm = await waitFor('a read from the cache', () => execute(slow, readQuery(s.field), { id }), (r) => r.stats.hits === 1, 5_000, 20);
    expect(warm.text).toBe(JSON.stringify({ data: { typeSample: { id, version: 2, [s.field]: s.served } } }));
    expect(warm.stats).toMatchObject({ hits: 1, sourceLoads: 0 });
  });
});

describe('floats GraphQL cannot carry', () => {
  // GraphQL's Float is finite (and so is a JSON number): NaN and the infinities of a real or double column
  // are an error at that field, the rest of the row served; the fast path falls through to execution's answer.
  it.each(NON_FINITE_FLOATS.map((s) => [label(s), s] as const))('%s: an error at that field, the same on both paths', async (_, s) => {
    const id = await insertRow(s.field, s.pg);
    const query = `query($id: ID!) { typeSample(id: $id) { id ${s.field} } }`;
    const slowAnswer = await execute(slow, query, { id });
    const before = executions();
    const fastAnswer = await execute(fast, query, { id });
    expect(fastAnswer.text).toBe(slowAnswer.text);
    expect(executions()).toBe(before + 1);
    const parsed = JSON.parse(slowAnswer.text) as { data: unknown; errors?: { path: unknown[]; extensions: { code: string } }[] };
    // In a list, the element is the error (and null); the list itself stands.
    const list = Array.isArray(s.served) ? s.served : undefined;
    const bad = list?.findIndex((e) => typeof e === 'string') ?? -1;
    expect(parsed.data).toEqual({ typeSample: { id, [s.field]: list ? list.map((e) => (typeof e === 'string' ? null : e)) : null } });
    expect(parsed.errors?.map((e) => e.path)).toEqual([list ? ['typeSample', s.field, bad] : ['typeSample', s.field]]);
    // graphql-js' own Float refuses to serialize it: an error no code of ours names.
    expect(parsed.errors?.map((e) => e.extensions.code)).toEqual(['INTERNAL_SERVER_ERROR']);
    // The cache holds the value exactly, for the day a client can be given it.
    expect(JSON.stringify((await waitForEnvelope(id, 1)).data[s.field])).toBe(JSON.stringify(s.served));
  });
});

interface Refusal {
  readonly field: string;
  readonly input: unknown;
}

const REFUSALS: readonly Refusal[] = [
  { field: 'int8', input: '9223372036854775808' },
  { field: 'int8', input: '-9223372036854775809' },
  { field: 'int8', input: 12 },
  { field: 'int4', input: 1.5 },
  { field: 'int4', input: 2147483648 },
  { field: 'int2', input: 32768 },
  { field: 'int2List', input: [1, -32769] },
  { field: 'num', input: '12abc' },
  { field: 'num', input: 1.5 },
  { field: 'money', input: '12345678901.00' },
  { field: 'vchar', input: 'x'.repeat(41) },
  { field: 'fixed', input: 'abcdef' },
  { field: 'uid', input: 'not-a-uuid' },
  { field: 'day', input: '2026-02-30' },
  { field: 'day', input: '2026-12-04T00:00:00Z' },
  { field: 'clock', input: '25:00:00' },
  { field: 'local', input: '2026-13-01T00:00:00Z' },
  { field: 'zoned', input: '2026-12-04 10:00' },
  { field: 'bytes', input: 'not base64!' },
  { field: 'bytes', input: 'AAA' },
  { field: 'mood', input: 'ANGRY' },
  { field: 'moodList', input: ['HAPPY', 'in between'] },
  { field: 'txt', input: 'nul \u0000 inside' },
  { field: 'int4Req', input: null },
];

describe('bad values', () => {
  it.each(REFUSALS.map((r) => [`${r.field}: ${JSON.stringify(r.input).slice(0, 40)}`, r] as const))('%s is BAD_USER_INPUT naming the field, and changes nothing', async (_, r) => {
    const id = await insertRow('int4', '1');
    await execute(slow, readQuery(r.field), { id });
    await waitForEnvelope(id, 1);
    const countBefore = await app.sql('type_samples').count<{ count: string }[]>('* as count');
    const created = await postGraphql(app.url, `mutation($input: NewTypeSample!) { createTypeSample(input: $input) { id } }`, { input: { [r.field]: r.input } });
    const updated = await postGraphql(app.url, `mutation($id: ID!, $patch: TypeSamplePatch!) { updateTypeSample(id: $id, patch: $patch) { id } }`, { id, patch: { [r.field]: r.input } });
    for (const res of [created, updated]) {
      expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors?.[0]?.message).toContain(r.field);
      expect(res.data ?? null).toBeNull();
    }
    expect(await app.sql('type_samples').count<{ count: string }[]>('* as count')).toEqual(countBefore);
    const { rows } = await raw.query<{ version: string }>('select version from type_samples where id = $1', [id]);
    expect(rows[0]?.version).toBe('1');
    expect((await envelopeOf(id))?.v).toBe(1);
  });
});

interface KeyedRow {
  readonly id: string;
  readonly version: number;
  readonly num: string | null;
  readonly txtList: (string | null)[] | null;
}

const tableOf = (type: string): string => `type_samples_${type.replace('TypeSample', '').toLowerCase()}`;

const KEYED = [
  { type: 'TypeSampleInt', one: 'typeSampleInt', keys: [undefined, undefined] },
  { type: 'TypeSampleBig', one: 'typeSampleBig', keys: ['9223372036854775807', '-9223372036854775808'] },
  { type: 'TypeSampleText', one: 'typeSampleText', keys: ['ünï cødé {x}:y', ' '] },
] as const;

describe('keys of kinds integer, bigint and text', () => {
  it.each(KEYED.map((k) => [k.type, k] as const))('%s: created with its extreme keys, read by id, by ids and through _entities, cached under its key', async (_, k) => {
    const ids: string[] = [];
    for (const key of k.keys) {
      const input = { ...(key === undefined ? {} : { id: key }), num: '-123456789012345678901234567890.5', txtList: ['a', null] };
      const created = await postGraphql<Record<string, KeyedRow>>(app.url, `mutation($input: New${k.type}!) { create${k.type}(input: $input) { id version num txtList } }`, { input });
      const row = dataOf(created)[`create${k.type}`] as KeyedRow;
      expect(row).toEqual({ id: key ?? row.id, version: 1, num: '-123456789012345678901234567890.5', txtList: ['a', null] });
      ids.push(row.id);
      expect((await envelopeOf(row.id, k.type))?.data).toEqual(row);
    }
    const { rows } = await raw.query<{ id: string; num: string }>(`select id, num from ${tableOf(k.type)} order by id`);
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());

    const one = `query($id: ID!) { ${k.one}(id: $id) { id version num txtList } }`;
    const many = `query($ids: [ID!]!) { ${k.one}s(ids: $ids) { id num } }`;
    const entities = `query($r: [_Any!]!) { _entities(representations: $r) { ... on ${k.type} { id num } } }`;
    for (const [query, variables] of [
      [one, { id: ids[0] }],
      [many, { ids: [ids[1], ids[0], ids[1]] }],
      [entities, { r: ids.map((id) => ({ __typename: k.type, id })) }],
    ] as const) {
      const cold = await execute(slow, query, variables);
      expect(cold.text).not.toContain('errors');
      const warm = await execute(slow, query, variables);
      expect(warm.text).toBe(cold.text);
      expect(warm.stats).toMatchObject({ misses: 0, sourceLoads: 0 });
    }
    const updated = await postGraphql<Record<string, KeyedRow>>(app.url, `mutation($id: ID!) { update${k.type}(id: $id, patch: { num: "NaN", txtList: [] }) { id version num txtList } }`, { id: ids[1] });
    expect(dataOf(updated)[`update${k.type}`]).toEqual({ id: ids[1], version: 2, num: 'NaN', txtList: [] });
    expect((await envelopeOf(ids[1] as string, k.type))?.data).toMatchObject({ version: 2, num: 'NaN', txtList: [] });

    const deleted = await postGraphql<Record<string, boolean>>(app.url, `mutation($id: ID!) { delete${k.type}(id: $id, expectedVersion: 2) }`, { id: ids[1] });
    expect(dataOf(deleted)).toEqual({ [`delete${k.type}`]: true });
    const tombstone = await app.redis.get(keys().entity(k.type, ids[1] as string));
    expect(app.parseEnvelope(tombstone as string)).toMatchObject({ v: 3, data: null });
    expect(JSON.parse((await execute(slow, one, { id: ids[1] })).text)).toEqual({ data: { [k.one]: null } });
  });

  it.each([
    ['TypeSampleBig', 'typeSampleBig', '9223372036854775808'],
    ['TypeSampleInt', 'typeSampleInt', '1.5'],
  ] as const)('%s: reading a key that cannot be one (%j) is BAD_USER_INPUT; in _entities it is null', async (type, one, key) => {
    expect(codesOf(await postGraphql(app.url, `query($id: ID!) { ${one}(id: $id) { id } }`, { id: key }))).toEqual(['BAD_USER_INPUT']);
    const entities = await postGraphql(app.url, `query($r: [_Any!]!) { _entities(representations: $r) { ... on ${type} { id } } }`, { r: [{ __typename: type, id: key }] });
    expect(dataOf(entities)).toEqual({ _entities: [null] });
  });

  it.each([
    ['TypeSampleBig', '9223372036854775808'],
    ['TypeSampleBig', '1.5'],
    ['TypeSampleInt', '2147483648'],
    ['TypeSampleText', ''],
  ] as const)('%s: a key that cannot be one (%j) is BAD_USER_INPUT and creates nothing', async (type, key) => {
    const before = await app.sql(tableOf(type)).count<{ count: string }[]>('* as count');
    const res = await postGraphql(app.url, `mutation($input: New${type}!) { create${type}(input: $input) { id } }`, { input: { id: key } });
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    expect(await app.sql(tableOf(type)).count<{ count: string }[]>('* as count')).toEqual(before);
  });

  // The fast path reads keys by the type's kind (entity.parseKey), so a type keyed by integer, bigint or text
  // is answered by it as a uuid-keyed one is.
  it('the fast path answers typeSampleInt(id) and typeSampleBigs(ids) itself', async () => {
    const id = String(dataOf(await postGraphql<{ createTypeSampleInt: { id: string } }>(app.url, 'mutation { createTypeSampleInt(input: { num: "1" }) { id } }')).createTypeSampleInt.id);
    const before = executions();
    const answer = await execute(fast, 'query($id: ID!) { typeSampleInt(id: $id) { id num } }', { id });
    expect(answer.text).toBe(JSON.stringify({ data: { typeSampleInt: { id, num: '1' } } }));
    expect(executions()).toBe(before);
  });

  // In _entities too: such a key is not taken for a malformed one (a null where execution resolves the entity).
  it('the fast path answers _entities of integer, bigint and text keys as execution does', async () => {
    const id = String(dataOf(await postGraphql<{ createTypeSampleInt: { id: string } }>(app.url, 'mutation { createTypeSampleInt(input: { num: "2" }) { id } }')).createTypeSampleInt.id);
    const created = await postGraphql<{ createTypeSampleText: { id: string } }>(app.url, 'mutation { createTypeSampleText(input: { id: "entities-key", num: "3" }) { id } }');
    const query = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on TypeSampleInt { id num } ... on TypeSampleText { id num } } }';
    const variables = { r: [{ __typename: 'TypeSampleInt', id }, { __typename: 'TypeSampleText', id: dataOf(created).createTypeSampleText.id }] };
    const expected = await execute(slow, query, variables);
    expect(expected.text).toBe(JSON.stringify({ data: { _entities: [{ id, num: '2' }, { id: 'entities-key', num: '3' }] } }));
    expect((await execute(fast, query, variables)).text).toBe(expected.text);
  });
});

describe('arrays of more than one dimension', () => {
  // A definition declares one-dimensional arrays; Postgres lets any array column hold more. A read of such a
  // row is refused (the row is not served, and is not cached) rather than served flattened or wrong.
  it('a row holding a two-dimensional array is not served or cached, nor is the batch it is read in', async () => {
    const flat = await insertRow('int4List', '{1,2}');
    const deep = await insertRow('int4List', '{{1,2},{3,4}}');
    const deepText = await insertRow('txtList', '{{a,b},{c,d}}');
    const answer = JSON.parse((await execute(slow, 'query($ids: [ID!]!) { typeSamples(ids: $ids) { id int4List txtList } }', { ids: [flat, deep, deepText] })).text) as {
      data: unknown;
      errors?: { extensions: { code: string } }[];
    };
    // The rows are decoded per statement (db/entity-sql.ts findByIds), so the whole batch fails, the good row too.
    expect(answer.data).toBeNull();
    expect(answer.errors?.map((e) => e.extensions.code)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(await envelopeOf(flat)).toBeUndefined();
    expect(await envelopeOf(deep)).toBeUndefined();
    expect(await envelopeOf(deepText)).toBeUndefined();
    const alone = await execute(slow, readQuery('int4List'), { id: flat });
    expect(alone.text).toBe(JSON.stringify({ data: { typeSample: { id: flat, version: 1, int4List: [1, 2] } } }));
  });
});
