import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeySpace } from '../../src/cache/keys.js';
import { newId } from '../../src/ids.js';
import { SAMPLE_VALUES, type SampleValue } from '../fixtures/type-sample-values.js';
import { SAMPLE_TYPES } from '../fixtures/type-samples.js';
import { dataOf, postGraphql } from '../helpers/app.js';
import { startEmbeddedTypeSamplesApp, type TypeSamplesApp } from '../helpers/type-samples-app.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The type round-trip of column-types.test.ts on the embedded database
 * (PGlite, whose driver parses values its own way): every value inserted by
 * SQL is served as on Postgres, cold and from the envelope, and every value a
 * mutation writes is served the same once read back from the database.
 */

let app: Omit<TypeSamplesApp, 'createServer'>;

beforeAll(async () => {
  app = await startEmbeddedTypeSamplesApp();
}, 120_000);
afterAll(async () => {
  await app?.close();
}, 60_000);

const snake = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const ddlOf = (field: string): string => {
  const base = SAMPLE_TYPES.find((t) => field === t.name || field === `${t.name}Req` || field === `${t.name}List`);
  if (base === undefined) throw new Error(`no sample type for ${field}`);
  return field.endsWith('List') ? `${base.ddl}[]` : base.ddl;
};
const key = (id: string) => createKeySpace(app.prefix).entity('TypeSample', id);
const read = async (field: string, id: string) =>
  dataOf(await postGraphql<{ typeSample: Record<string, unknown> }>(app.url, `query($id: ID!) { typeSample(id: $id) { id ${field} } }`, { id })).typeSample;
const envelopeOf = async (id: string) => {
  const stored = await app.redis.get(key(id));
  return stored === null ? undefined : app.parseEnvelope<Record<string, unknown>>(stored);
};
const label = (s: SampleValue) => `${s.field} = ${s.pg === null ? 'NULL' : JSON.stringify(s.pg).slice(0, 60)}`;

describe('every column type on the embedded database', () => {
  it.each(SAMPLE_VALUES.map((s) => [label(s), s] as const))('%s: served as on Postgres, cold and from the envelope, and written back the same', async (_, s) => {
    const id = newId();
    // As text first: PGlite binds a string to a bytea parameter only as bytes.
    await app.sql.raw(`insert into type_samples (id, ${snake(s.field)}) values (?, ?::text::${ddlOf(s.field)})`, [id, s.literal ?? s.pg]);
    expect(await read(s.field, id)).toEqual({ id, [s.field]: s.served });
    const envelope = await waitFor('the envelope', () => envelopeOf(id), (e) => e?.data !== undefined && e.data !== null, 5_000, 20);
    expect(JSON.stringify(envelope?.data?.[s.field])).toBe(JSON.stringify(s.served));
    expect(JSON.stringify(await read(s.field, id))).toBe(JSON.stringify({ id, [s.field]: s.served }));

    if (s.writable === false) return;
    const created = await postGraphql<{ createTypeSample: { id: string } }>(app.url, `mutation($input: NewTypeSample!) { createTypeSample(input: $input) { id ${s.field} } }`, {
      input: { [s.field]: s.input !== undefined ? s.input : s.served },
    });
    const createdId = dataOf(created).createTypeSample.id;
    expect(dataOf(created).createTypeSample).toEqual({ id: createdId, [s.field]: s.served });
    // From the database again, not from what the mutation wrote to the cache.
    await app.redis.del(key(createdId));
    expect(await read(s.field, createdId)).toEqual({ id: createdId, [s.field]: s.served });
  });
});
