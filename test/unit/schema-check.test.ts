import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { asId, defineEntity, int, text, timestamp, uuid } from '../../src/entities/define.js';
import { resolveLists } from '../../src/entities/lists.js';
import { checkEntitiesAgainstSchema } from '../../src/schema-check.js';

/** Start-up refuses a definition that disagrees with its SDL, naming both sides. */

const sdl = (body: string) =>
  parse(`scalar DateTime
  type Query { widget(id: ID!): Widget  widgets(ids: [ID!]!): [Widget]! }
  ${body}`);

const widget = (columns: Parameters<typeof defineEntity>[0]['columns'], extra: Partial<Parameters<typeof defineEntity>[0]> = {}) =>
  defineEntity({ type: 'Widget', table: 'widgets', columns, roots: { one: 'widget', many: 'widgets' }, ...extra });

const WIDGET = 'type Widget @key(fields: "id") { id: ID!  priceCents: Int!  version: Int!  updatedAt: DateTime! }';
const columns = { id: uuid(), priceCents: int(), version: int(), updatedAt: timestamp() };

describe('definitions against the SDL', () => {
  it('accepts a definition whose every column is a field of the served type', () => {
    expect(() => checkEntitiesAgainstSchema([widget(columns)], sdl(WIDGET))).not.toThrow();
  });

  it('refuses a column whose field the SDL does not have (a field renamed on one side only)', () => {
    const renamed = widget({ id: uuid(), price: int().as('price_cents'), version: int(), updatedAt: timestamp() });
    expect(() => checkEntitiesAgainstSchema([renamed], sdl(WIDGET))).toThrow(/entity Widget \(src\/entities\/\) and schema\/ disagree: column price_cents is served as Widget\.price, which the schema does not have/);
  });

  it('refuses a field no column, relation, list or resolver serves', () => {
    expect(() => checkEntitiesAgainstSchema([widget(columns)], sdl(WIDGET.replace('version: Int!', 'version: Int!  colour: String')))).toThrow(
      /Widget\.colour is a field of the schema that no column, relation, list or resolver serves/,
    );
    expect(() => checkEntitiesAgainstSchema([widget(columns)], sdl(WIDGET.replace('version: Int!', 'version: Int!  colour: String')), [], new Set(['Widget.colour']))).not.toThrow();
  });

  it('refuses a column served as another type, a nullable column on a non-null field, and an array on a plain field', () => {
    expect(() => checkEntitiesAgainstSchema([widget(columns)], sdl(WIDGET.replace('priceCents: Int!', 'priceCents: String!')))).toThrow(
      /Widget\.priceCents is String! in the schema, but column price_cents \(int4\) is served as Int/,
    );
    const nullable = widget({ ...columns, priceCents: int().orNull() });
    expect(() => checkEntitiesAgainstSchema([nullable], sdl(WIDGET))).toThrow(/column price_cents may be NULL/);
    expect(() => checkEntitiesAgainstSchema([nullable], sdl(WIDGET.replace('priceCents: Int!', 'priceCents: Int')))).not.toThrow();
  });

  it('refuses a relation whose id field, or target type, the schema does not have', () => {
    const withRelation = (by: string, to = 'Widget') =>
      widget({ ...columns, parentId: uuid().orNull() }, { relations: [{ on: 'Widget', field: 'parent', to, by }] });
    const body = WIDGET.replace('version: Int!', 'version: Int!  parentId: ID  parent: Widget');
    expect(() => checkEntitiesAgainstSchema([withRelation('parentId')], sdl(body))).not.toThrow();
    expect(() => checkEntitiesAgainstSchema([withRelation('ownerId')], sdl(body))).toThrow(/relation Widget\.parent reads its id from Widget\.ownerId, which the schema does not have/);
  });

  it('refuses a key field the @key does not name, and a list field of the wrong shape', () => {
    const keyed = defineEntity({ type: 'Widget', table: 'widgets', key: 'widgetId', columns: { widgetId: asId(int()), priceCents: int(), version: int(), updatedAt: timestamp() } });
    expect(() => checkEntitiesAgainstSchema([keyed], sdl(WIDGET.replace('id: ID!', 'widgetId: ID!')))).toThrow(/needs @key\(fields: "widgetId"\)/);
    expect(() =>
      checkEntitiesAgainstSchema([keyed], sdl(WIDGET.replace('id: ID!', 'widgetId: ID!').replace('@key(fields: "id")', '@key(fields: "widgetId")'))),
    ).not.toThrow();
    const tagged = widget(columns, { roots: { one: 'widget', many: 'widgets', lists: { widgetList: { order: [] } } } });
    const lists = resolveLists([tagged]);
    expect(() => checkEntitiesAgainstSchema([tagged], parse(`scalar DateTime type Query { widget(id: ID!): Widget widgets(ids: [ID!]!): [Widget]! widgetList: [Widget!]! } ${WIDGET}`), lists)).toThrow(
      /Query\.widgetList is served as a connection: it must take first and after/,
    );
    // A text column needs text: nothing else is checked here.
    expect(text().graphqlType).toBe('String');
  });
});
