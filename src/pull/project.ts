import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Kind, parse, type DocumentNode } from 'graphql';
import { camelCase } from './naming.js';
import { PullRefusal, type EntityPlan, type Existing, type TablePlan } from './plan.js';
import { definitionParts, enumParts, joinParts, sdlParts, versionMigration } from './render.js';
import { mergeFile, pulledTableOf, RegionEdited, renderFile, type CommentStyle, type Part } from './regions.js';

/**
 * Where `npm run pull` reads and writes in a checkout: which tables it pulled
 * before (the first line of their definitions says so), what the rest of the
 * project declares (so a pulled name cannot take it), and the files it writes
 * (definitions, SDL, migrations, and the two lists that name them:
 * ENTITIES in src/entities/index.ts and MIGRATIONS in src/db/migrations/index.ts).
 */

const ENTITIES_DIR = 'src/entities';
const SCHEMA_DIR = 'schema';
const MIGRATIONS_DIR = 'src/db/migrations';
const PULLED = /^(?:\/\/|#) Written by `npm run pull`/;

const read = (root: string, path: string): string => readFileSync(join(root, path), 'utf8');
const filesIn = (root: string, dir: string, ext: string): string[] =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => `${dir}/${f}`);

/** The tables pulled before, from the headers of the definitions pull wrote. */
export function pulledBefore(root: string): string[] {
  return filesIn(root, ENTITIES_DIR, '.ts').flatMap((file) => {
    const table = pulledTableOf(read(root, file));
    return table === undefined ? [] : [table];
  });
}

/** What the files pull did not write declare: GraphQL types and root fields, entity tables, exported definitions. */
export function readExisting(root: string): Existing {
  const types = new Map<string, string>(['String', 'Int', 'Float', 'Boolean', 'ID'].map((t) => [t, 'GraphQL itself']));
  const queryFields = new Map<string, string>();
  const mutationFields = new Map<string, string>();
  for (const file of filesIn(root, SCHEMA_DIR, '.graphql')) {
    const text = read(root, file);
    if (PULLED.test(text)) continue;
    let document: DocumentNode;
    try {
      document = parse(text);
    } catch (err) {
      throw new PullRefusal([`${file}: ${(err as Error).message} (pull reads the SDL to keep pulled names from taking yours)`]);
    }
    for (const def of document.definitions) {
      if (!('name' in def) || def.name === undefined) continue;
      const name = def.name.value;
      if (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.OBJECT_TYPE_EXTENSION) {
        const into = name === 'Query' ? queryFields : name === 'Mutation' ? mutationFields : undefined;
        for (const field of def.fields ?? []) into?.set(field.name.value, file);
      }
      if (def.kind.endsWith('Definition') && !types.has(name)) types.set(name, file);
    }
  }
  const tables = new Map<string, string>();
  const variables = new Set<string>();
  for (const file of filesIn(root, ENTITIES_DIR, '.ts')) {
    const text = read(root, file);
    if (PULLED.test(text)) continue;
    for (const match of text.matchAll(/^\s*table: '([a-z_][a-z0-9_]*)'/gm)) tables.set(match[1] as string, file);
    for (const match of text.matchAll(/^export const (\w+)/gm)) variables.add(match[1] as string);
  }
  return { types, queryFields, mutationFields, tables, variables };
}

/** One file pull writes: its path and its content after the merge. */
export interface Output {
  readonly path: string;
  readonly content: string;
  readonly created: boolean;
}

/**
 * Every file the plans call for, merged into what is on disk; nothing is
 * written yet. Throws RegionEdited when a region was edited by hand or a
 * file pull would write is not one of its own.
 */
export function outputsOf(root: string, plans: readonly TablePlan[]): Output[] {
  const outputs: Output[] = [];
  const file = (path: string, style: CommentStyle, parts: readonly Part[]): void => {
    const full = join(root, path);
    if (!existsSync(full)) {
      outputs.push({ path, content: renderFile(style, parts), created: true });
      return;
    }
    const existing = readFileSync(full, 'utf8');
    if (!PULLED.test(existing)) throw new RegionEdited(`${path} exists and was not written by pull; rename it, or the table, before pulling`);
    const content = mergeFile(path, style, existing, parts);
    if (content !== existing) outputs.push({ path, content, created: false });
  };
  const enums = new Map<string, Part[]>();
  for (const plan of plans) {
    if (plan.kind === 'join') {
      file(`${ENTITIES_DIR}/${plan.file}.ts`, '//', joinParts(plan));
      continue;
    }
    const offered = { ...plan, mutations: mutationsKept(root, `${ENTITIES_DIR}/${plan.file}.ts`) ?? plan.mutations };
    file(`${ENTITIES_DIR}/${plan.file}.ts`, '//', definitionParts(offered));
    file(`${SCHEMA_DIR}/${plan.file}.graphql`, '#', sdlParts(offered));
    for (const e of plan.enums) enums.set(e.file, enumParts(e));
  }
  for (const [name, parts] of enums) file(`${SCHEMA_DIR}/${name}.graphql`, '#', parts);

  // A migration per table that has no version column yet, unless pull wrote one already (it has not run yet).
  const migrations = filesIn(root, MIGRATIONS_DIR, '.ts');
  let next = Math.max(0, ...migrations.map((m) => Number(/\/(\d+)-/.exec(m)?.[1] ?? 0))) + 1;
  const added: string[] = [];
  for (const plan of plans) {
    if (plan.kind !== 'entity' || !plan.addsVersion) continue;
    if (migrations.some((m) => m.endsWith(`-pull-${plan.table.replace(/_/g, '-')}.ts`))) continue;
    const name = `${String(next++).padStart(3, '0')}-pull-${plan.table.replace(/_/g, '-')}`;
    outputs.push({ path: `${MIGRATIONS_DIR}/${name}.ts`, content: versionMigration(plan.table), created: true });
    added.push(name);
  }
  if (added.length > 0) {
    const path = `${MIGRATIONS_DIR}/index.ts`;
    let index = read(root, path);
    for (const name of added) {
      const variable = camelCase(name.replace(/^\d+-/, '').replace(/-/g, '_'));
      index = insertAfterImports(index, `import * as ${variable} from './${name}.js';`);
      index = replaceOnce(path, index, /(const MIGRATIONS: ReadonlyArray<readonly \[string, Migration\]> = \[[\s\S]*?)\n\];/, `$1\n  ['${name}', ${variable}],\n];`);
    }
    outputs.push({ path, content: index, created: false });
  }

  // ENTITIES names every entity once.
  const path = `${ENTITIES_DIR}/index.ts`;
  const before = read(root, path);
  let index = before;
  for (const plan of plans) {
    if (plan.kind !== 'entity') continue;
    const list = /export const ENTITIES = \[([^\]]*)\] as const;/.exec(index);
    if (list === null) throw new RegionEdited(`${path}: no \`export const ENTITIES = [...] as const;\` line to add ${plan.variable} to`);
    const names = (list[1] ?? '').split(',').map((n) => n.trim()).filter(Boolean);
    if (names.includes(plan.variable)) continue;
    index = insertAfterImports(index, `import { ${plan.variable} } from './${plan.file}.js';`);
    index = index.replace(list[0], `export const ENTITIES = [${[...names, plan.variable].join(', ')}] as const;`);
  }
  if (index !== before) outputs.push({ path, content: index, created: false });
  return outputs;
}

/**
 * The mutations a pulled definition offers, as its `mutations:` line says (outside the regions: the
 * user's to change); undefined before the file exists. The SDL's mutation region follows it.
 */
function mutationsKept(root: string, path: string): EntityPlan['mutations'] | undefined {
  if (!existsSync(join(root, path))) return undefined;
  const line = /^ {2}mutations: \{([^}]*)\},?$/m.exec(read(root, path));
  if (line === null) return {};
  const kept: Record<string, string> = {};
  for (const [, kind, name] of (line[1] ?? '').matchAll(/(create|update|delete): '(\w+)'/g)) kept[kind as string] = name as string;
  return kept;
}

export function writeOutputs(root: string, outputs: readonly Output[]): void {
  for (const output of outputs) {
    mkdirSync(dirname(join(root, output.path)), { recursive: true });
    writeFileSync(join(root, output.path), output.content);
  }
}

function insertAfterImports(text: string, line: string): string {
  if (text.includes(line)) return text;
  const lines = text.split('\n');
  let last = -1;
  lines.forEach((l, i) => {
    if (/^import .* from '.*';$/.test(l)) last = i;
  });
  lines.splice(last + 1, 0, line);
  return lines.join('\n');
}

function replaceOnce(path: string, text: string, pattern: RegExp, replacement: string): string {
  const after = text.replace(pattern, replacement);
  if (after === text) throw new RegionEdited(`${path}: cannot find where to add the migration (${String(pattern)})`);
  return after;
}
