import { enumValueName } from '../entities/columns.js';
import type { EntityPlan, EnumPlan, FieldPlan, JoinPlan } from './plan.js';
import { PULL_HEADER, region, type Part } from './regions.js';

/**
 * The files `npm run pull` writes for a plan, as parts (regions.ts): the
 * definition under src/entities/, its SDL under schema/, and the migration
 * that gives the table its version column. Everything a later pull may need
 * to change lies in a region; the rest is written once and is the user's.
 */

const ts = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const YOURS = 'the rest of this file is yours to edit. What to review: docs/adopt.md.';

export function definitionParts(plan: EntityPlan): Part[] {
  const helpers = new Set(['defineEntity', ...plan.fields.flatMap((f) => f.helpers)]);
  if (plan.lists.some((l) => l.kind === 'foreign-key')) helpers.add('hasMany');
  if (plan.lists.some((l) => l.kind === 'join')) helpers.add('through');
  const joins = [...new Map(plan.lists.flatMap((l) => (l.kind === 'join' ? [[l.join.table, l.join] as const] : []))).values()];
  const imports = [
    `import { ${[...helpers].sort().join(', ')}, type RowOf } from './define.js';`,
    ...joins.map((j) => `import { ${j.variable} } from './${j.file}.js';`),
  ];
  const keyOption = plan.key.field === 'id' ? [] : [`  key: ${ts(plan.key.field)},`];
  const lookups = plan.lookups.map((l) => `${l.field}: { root: ${ts(l.root)}, validate: (value: string) => value },`);
  const mutations = Object.entries(plan.mutations).map(([k, v]) => `${k}: ${ts(v)}`);
  return [
    PULL_HEADER('//', plan.table),
    `// ${YOURS}`,
    region('imports', imports),
    '',
    `/** Rows of table ${plan.table}, served as ${plan.type}. */`,
    `export const ${plan.variable} = defineEntity({`,
    `  type: ${ts(plan.type)},`,
    `  table: ${ts(plan.table)},`,
    ...keyOption,
    '  columns: {',
    region('columns', plan.fields.map((f) => `${f.field}: ${f.expression},`), '    '),
    '  },',
    `  roots: { one: ${ts(plan.roots.one)}, many: ${ts(plan.roots.many)} },`,
    '  relations: [',
    region('relations', plan.relations.map((r) => `{ on: ${ts(plan.type)}, field: ${ts(r.field)}, to: ${ts(r.to)}, by: ${ts(r.by)} },`), '    '),
    '  ],',
    '  lists: {',
    region(
      'lists',
      plan.lists.map((l) =>
        l.kind === 'foreign-key'
          ? `${l.field}: hasMany(${ts(l.of)}, { by: ${ts(l.by)}, order: []${l.onDelete === 'restrict' ? '' : `, onDelete: ${ts(l.onDelete)}`} }),`
          : `${l.field}: through(${l.join.variable}, { from: ${ts(l.from)}, to: ${ts(l.to)}, order: [] }),`,
      ),
      '    ',
    ),
    '  },',
    '  lookups: {',
    region('lookups', lookups, '    '),
    '  },',
    mutations.length === 0 ? '  mutations: {},' : `  mutations: { ${mutations.join(', ')} },`,
    '});',
    '',
    `export type ${plan.type}Row = RowOf<typeof ${plan.variable}>;`,
  ];
}

export function joinParts(plan: JoinPlan): Part[] {
  return [
    PULL_HEADER('//', plan.table),
    `// ${YOURS}`,
    "import { defineJoinTable } from './define.js';",
    '',
    `/** Table ${plan.table}: the join table of ${plan.sides.map((s) => s.type).join(' and ')}. */`,
    `export const ${plan.variable} = defineJoinTable({`,
    `  table: ${ts(plan.table)},`,
    '  sides: {',
    region('sides', plan.sides.map((s) => `${s.side}: { column: ${ts(s.column)}, type: ${ts(s.type)} },`), '    '),
    '  },',
    '});',
  ];
}

const sdlType = (f: FieldPlan, nullable = f.nullable): string => `${f.graphql}${nullable ? '' : '!'}`;
const described = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function sdlParts(plan: EntityPlan): Part[] {
  const fields = [
    ...plan.fields.map((f) => `${f.field}: ${sdlType(f)}`),
    ...plan.relations.map((r) => `${r.field}: ${r.to}${r.nullable ? '' : '!'}`),
    ...plan.lists.flatMap((l) => [
      described(`The ${l.of} rows ${l.kind === 'foreign-key' ? `whose ${l.by} is this one's` : `joined to this one in ${l.join.table}`}, by key. \`first\`: 0 to 100 (null means 20).`),
      `${l.field}(first: Int = 20, after: String): ${l.of}Connection!`,
    ]),
  ];
  const lower = plan.variable;
  const types: string[] = [];
  if (plan.connection) {
    types.push(
      described(`A page of ${plan.roots.many}.`),
      `type ${plan.type}Connection {`,
      `  edges: [${plan.type}Edge!]!`,
      `  nodes: [${plan.type}!]!`,
      '  pageInfo: PageInfo!',
      `  ${described(`How many ${plan.roots.many} the whole list holds.`)}`,
      '  totalCount: Int!',
      '}',
      '',
      `type ${plan.type}Edge {`,
      '  cursor: String!',
      `  node: ${plan.type}!`,
      '}',
    );
  }
  const settable = plan.fields.filter((f) => f !== plan.version && !f.generated);
  if (plan.mutations.create !== undefined) {
    if (types.length > 0) types.push('');
    types.push(`input ${plan.inputs.create} {`, ...settable.map((f) => `  ${f.field}: ${sdlType(f, f.optionalOnCreate)}`), '}');
  }
  if (plan.mutations.update !== undefined) {
    if (types.length > 0) types.push('');
    types.push(
      described('Fields to change; at least one must be given.'),
      `input ${plan.inputs.patch} {`,
      ...settable.filter((f) => f !== plan.key).map((f) => `  ${f.field}: ${f.graphql}`),
      '}',
    );
  }
  const { create, update, delete: remove } = plan.mutations;
  const mutation = [
    ...(create === undefined ? [] : [described('ALREADY_EXISTS when the key or a unique value is taken; BAD_USER_INPUT when a foreign key names no row.'), `${create}(input: ${plan.inputs.create}!): ${plan.type}!`]),
    ...(update === undefined
      ? []
      : [described('VERSION_CONFLICT when expectedVersion is given and differs from the stored version; NOT_FOUND when there is no such row.'), `${update}(id: ID!, patch: ${plan.inputs.patch}!, expectedVersion: Int): ${plan.type}!`]),
    ...(remove === undefined ? [] : [described('False when there was no such row; IN_USE while other rows refer to it.'), `${remove}(id: ID!, expectedVersion: Int): Boolean!`]),
  ];
  return [
    PULL_HEADER('#', plan.table),
    `# ${YOURS}`,
    '',
    described(`Rows of table ${plan.table}. Served from the write-through cache; \`version\` grows by exactly 1 per committed change, whoever makes it.`),
    `type ${plan.type} @key(fields: "${plan.key.field}") {`,
    region('fields', fields, '  '),
    '}',
    '',
    region('types', types),
    '',
    'extend type Query {',
    region(
      'query',
      [
        `${plan.roots.one}(id: ID!): ${plan.type}`,
        described(`Same order as ids; null where no ${lower} exists. At most 500 ids.`),
        `${plan.roots.many}(ids: [ID!]!): [${plan.type}]!`,
        ...plan.lookups.flatMap((l) => [`${l.root}(${l.field}: String!): ${plan.type}`]),
      ],
      '  ',
    ),
    '}',
    '',
    // With the braces: a definition that offers no mutation has no Mutation fields, and an empty extension is not GraphQL.
    region('mutation', mutation.length === 0 ? [] : ['extend type Mutation {', ...mutation.map((l) => `  ${l}`), '}']),
  ];
}

export function enumParts(plan: EnumPlan): Part[] {
  return [
    PULL_HEADER('#', `enum ${plan.type}`).replace('from table enum', 'from enum'),
    `# ${YOURS}`,
    '',
    region('enum', [described(`The Postgres enum ${plan.type}.`), `enum ${plan.graphql} {`, ...plan.labels.map((l) => `  ${enumValueName(l)}`), '}']),
  ];
}

/** The migration adding the version column (a plain string: written once, never merged). */
export function versionMigration(table: string): string {
  return `import type { Knex } from 'knex';

/**
 * Written by \`npm run pull\` for table ${table}: the row version the cache needs. Programs that already
 * write the table need not change: a new row gets version 1 from the default, and the outbox triggers
 * (installed at every start from the definition) raise it on their updates and record their changes.
 * A constant default makes this an instant change on Postgres 11 and later: no row is rewritten.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table "${table}" add column if not exists version integer not null default 1');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table "${table}" drop column if exists version');
}
`;
}
