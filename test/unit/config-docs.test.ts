import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, VARIABLES, type Config } from '../../src/config.js';

/**
 * docs/configuration.md against the declarations in src/config.ts: the same variables,
 * and each default as loadConfig really applies it, outside production and in it.
 *
 * A default cell reads `<outside production>[; <in production> when `NODE_ENV=production`]`,
 * and each part starts with what is compared: a code span holding the value (`4000`, `*`),
 * a code span naming another variable whose value it takes (`LEASE_TTL_MS`), `unset`
 * (no value, or an empty list) or `none` (an empty list). Anything after that is prose.
 */
const DOC_PATH = new URL('../../docs/configuration.md', import.meta.url);
const PRODUCTION_SUFFIX = ' when `NODE_ENV=production`';

type Field = keyof typeof VARIABLES;
const DECLARED = Object.entries(VARIABLES) as [Field, (typeof VARIABLES)[Field]][];
const FIELD_OF = new Map(DECLARED.map(([field, declared]) => [declared.env, field]));

/** The default cell of every `| `NAME` | default | meaning |` row. */
function documentedDefaults(markdown: string): { defaults: Map<string, string>; duplicates: string[] } {
  const defaults = new Map<string, string>();
  const duplicates: string[] = [];
  for (const line of markdown.split('\n')) {
    const row = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|/.exec(line);
    if (!row) continue;
    const [, name = '', cell = ''] = row;
    if (defaults.has(name)) duplicates.push(name);
    defaults.set(name, cell.trim());
  }
  return { defaults, duplicates };
}

function splitCell(cell: string): { development: string; production: string } {
  const split = cell.lastIndexOf('; ');
  if (!cell.endsWith(PRODUCTION_SUFFIX) || split === -1) return { development: cell, production: cell };
  return { development: cell.slice(0, split), production: cell.slice(split + 2, -PRODUCTION_SUFFIX.length) };
}

const valueIn = (config: Config, field: Field): unknown => (config as unknown as Record<string, unknown>)[field];

const shown = (value: unknown): string =>
  value === undefined ? 'unset' : Array.isArray(value) ? (value.length === 0 ? 'none' : value.join(',')) : String(value);

/** Why `part` misstates `value`, or undefined when it states it. */
function misstatement(part: string, value: unknown, config: Config): string | undefined {
  const code = /^`([^`]+)`/.exec(part)?.[1];
  const word = /^(\w+)/.exec(part)?.[1];
  const empty = value === undefined || (Array.isArray(value) && value.length === 0);
  if (code !== undefined) {
    const other = FIELD_OF.get(code);
    if (other !== undefined) {
      return valueIn(config, other) === value ? undefined : `names ${code}, which is ${shown(valueIn(config, other))}, but it is ${shown(value)}`;
    }
    return !empty && shown(value) === code ? undefined : `says \`${code}\`, but it is ${shown(value)}`;
  }
  if (word === 'unset') return empty ? undefined : `says unset, but it is ${shown(value)}`;
  if (word === 'none') return Array.isArray(value) && value.length === 0 ? undefined : `says none, but it is ${shown(value)}`;
  return `starts with neither a code span nor unset/none: "${part}"`;
}

describe('docs/configuration.md', () => {
  const { defaults, duplicates } = documentedDefaults(readFileSync(DOC_PATH, 'utf8'));

  it('documents every declared variable once, and nothing else', () => {
    const declared = DECLARED.map(([, d]) => d.env).sort();
    expect(duplicates).toEqual([]);
    expect([...defaults.keys()].sort()).toEqual(declared);
  });

  it('states the defaults that loadConfig applies, outside production and in it', () => {
    const development = loadConfig({});
    const production = loadConfig({ NODE_ENV: 'production' });
    const wrong: string[] = [];
    for (const [field, declared] of DECLARED) {
      const cell = defaults.get(declared.env);
      if (cell === undefined) continue;
      const parts = splitCell(cell);
      const outside = misstatement(parts.development, valueIn(development, field), development);
      if (outside !== undefined) wrong.push(`${declared.env} outside production: ${outside}`);
      // NODE_ENV is what tells production apart: its own row states only its default.
      if (field === 'nodeEnv') continue;
      const inside = misstatement(parts.production, valueIn(production, field), production);
      if (inside !== undefined) wrong.push(`${declared.env} when NODE_ENV=production: ${inside}`);
    }
    expect(wrong).toEqual([]);
  });

  it('reads cells the way the header comment says', () => {
    expect(splitCell('`true`; `false` when `NODE_ENV=production`')).toEqual({ development: '`true`', production: '`false`' });
    expect(splitCell('unset: in-process store')).toEqual({ development: 'unset: in-process store', production: 'unset: in-process store' });
    const config = loadConfig({ LEASE_TTL_MS: '1234' });
    expect(misstatement('`LEASE_TTL_MS`', config.leaseWaitMs, config)).toBeUndefined();
    expect(misstatement('`LEASE_TTL_MS`', 99, config)).toMatch(/names LEASE_TTL_MS, which is 1234/);
    expect(misstatement('`4000`', 4000, config)).toBeUndefined();
    expect(misstatement('`4000`', 4001, config)).toMatch(/says `4000`, but it is 4001/);
    expect(misstatement('unset: open', undefined, config)).toBeUndefined();
    expect(misstatement('unset', 'x', config)).toMatch(/says unset/);
    expect(misstatement('none', [], config)).toBeUndefined();
    expect(misstatement('every origin', '*', config)).toMatch(/neither a code span/);
  });
});
