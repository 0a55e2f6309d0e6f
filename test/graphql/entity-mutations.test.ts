import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/cache/envelope.js';
import { newId } from '../../src/ids.js';
import { codesOf, dataOf, QUIET_BACKGROUND, startTestApp, type TestApp } from '../helpers/app.js';
import { categorize, costOf, createCategory, createProduct, DEBUG, uniqueSlug } from '../helpers/shop.js';

/**
 * Mutations by declaration (`mutations: { update, delete }` in src/entities/category.ts): the same
 * write path as the hand-written ones (version + 1, the cache and every affected list fresh at once),
 * with the table's own rules answered as coded errors that change nothing.
 */

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ ...QUIET_BACKGROUND, DEBUG_EXTENSIONS: 'true' });
});
afterAll(async () => {
  await app?.close();
});

interface Category {
  id: string;
  name: string;
  slug: string;
  version: number;
}

const update = (id: string, patch: Record<string, unknown>, expectedVersion?: number) =>
  app.gql<{ updateCategory: Category }>(
    'mutation($id: ID!, $patch: CategoryPatch!, $v: Int) { updateCategory(id: $id, patch: $patch, expectedVersion: $v) { id name slug version } }',
    { id, patch, v: expectedVersion },
  );
const remove = (id: string, expectedVersion?: number) =>
  app.gql<{ deleteCategory: boolean }>('mutation($id: ID!, $v: Int) { deleteCategory(id: $id, expectedVersion: $v) }', { id, v: expectedVersion });
const read = async (id: string) => dataOf(await app.gql<{ category: Category | null }>('query($id: ID!) { category(id: $id) { id name slug version } }', { id })).category;
const categoriesOf = async (productId: string) => {
  const response = await app.gql<{ product: { categories: { name: string }[] } }>('query($p: ID!) { product(id: $p) { categories { name } } }', { p: productId }, DEBUG);
  return { names: dataOf(response).product.categories.map((c) => c.name), sql: costOf(response).sqlStatements };
};

describe('updateCategory (by declaration)', () => {
  it('changes the row at version + 1, in the cache at once, and moves it in every product\'s categories', async () => {
    const product = await createProduct(app);
    const [a, b] = [await createCategory(app, 'Alpha'), await createCategory(app, 'Beta')];
    await categorize(app, product, [a, b]);
    expect((await categoriesOf(product)).names).toEqual(['Alpha', 'Beta']);
    const renamed = dataOf(await update(a, { name: 'Zeta' })).updateCategory;
    expect(renamed).toMatchObject({ id: a, name: 'Zeta', version: 2 });
    expect(parseEnvelope<Category>((await app.redis.get(`${app.prefix}:{Category:${a}}`)) as string)).toMatchObject({ v: 2, data: { name: 'Zeta' } });
    const after = await categoriesOf(product);
    expect(after.names).toEqual(['Beta', 'Zeta']);
    expect(after.sql).toBe(0);
  });

  it('moves the slug hint with it: categoryBySlug finds the new slug at once and not the old', async () => {
    const slug = uniqueSlug('old');
    const id = dataOf(await app.gql<{ createCategory: { id: string } }>('mutation($s: String!) { createCategory(input: { name: "Hint", slug: $s }) { id } }', { s: slug })).createCategory.id;
    const bySlug = async (s: string) => dataOf(await app.gql<{ categoryBySlug: { id: string } | null }>('query($s: String!) { categoryBySlug(slug: $s) { id } }', { s })).categoryBySlug;
    expect(await bySlug(slug)).toEqual({ id });
    const next = uniqueSlug('new');
    dataOf(await update(id, { slug: next }));
    expect(await bySlug(next)).toEqual({ id });
    expect(await bySlug(slug)).toBeNull();
  });

  it('refuses with coded errors and changes nothing: VERSION_CONFLICT, NOT_FOUND, ALREADY_EXISTS, and the table\'s rules as BAD_USER_INPUT', async () => {
    const [id, other] = [await createCategory(app, 'Kept'), await createCategory(app, 'Other')];
    const taken = (await read(other))?.slug as string;
    expect(codesOf(await update(id, { name: 'Nope' }, 7))).toEqual(['VERSION_CONFLICT']);
    expect(codesOf(await update(newId(), { name: 'Nope' }))).toEqual(['NOT_FOUND']);
    expect(codesOf(await update(id, { slug: taken }))).toEqual(['ALREADY_EXISTS']);
    for (const patch of [{ slug: 'Not A Slug' }, { name: '   ' }, { name: null }, {}, { version: 9 }]) {
      const response = await update(id, patch);
      expect(codesOf(response), JSON.stringify(patch)).toEqual(['BAD_USER_INPUT']);
    }
    expect(codesOf(await update('not-an-id', { name: 'x' }))).toEqual(['BAD_USER_INPUT']);
    expect(await read(id)).toMatchObject({ name: 'Kept', version: 1 });
  });
});

describe('deleteCategory (by declaration)', () => {
  it('deletes the row, leaves a tombstone, and takes it out of every product\'s categories at once', async () => {
    const product = await createProduct(app);
    const [a, b] = [await createCategory(app, 'Gone'), await createCategory(app, 'Stays')];
    await categorize(app, product, [a, b]);
    expect(codesOf(await remove(a, 5))).toEqual(['VERSION_CONFLICT']);
    expect(dataOf(await remove(a, 1)).deleteCategory).toBe(true);
    expect(parseEnvelope((await app.redis.get(`${app.prefix}:{Category:${a}}`)) as string)).toMatchObject({ v: 2, data: null });
    expect(await read(a)).toBeNull();
    const after = await categoriesOf(product);
    expect(after.names).toEqual(['Stays']);
    expect(after.sql).toBe(0);
    expect(dataOf(await remove(a)).deleteCategory).toBe(false);
  });
});
