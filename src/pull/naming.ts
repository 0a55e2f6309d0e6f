/**
 * How `npm run pull` names what it writes, in one place: GraphQL types
 * PascalCase and singular (`media_type` -> `MediaType`, `invoices` ->
 * `Invoice`), fields camelCase (`unit_price` -> `unitPrice`), files kebab-case.
 * English plurals by a few rules, not a dictionary: a name they get wrong is
 * one to change by hand in the generated files.
 */

const words = (name: string): string[] => name.split(/_+/).filter(Boolean);
const capital = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

export const camelCase = (name: string): string => words(name).map((w, i) => (i === 0 ? w : capital(w))).join('');
export const pascalCase = (name: string): string => words(name).map(capital).join('');
export const kebabCase = (name: string): string => words(name).join('-');
/** What defineEntity maps a field to when no column name is given (define.ts). */
export const snakeCaseOfField = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const UNCOUNTED = new Set(['data', 'media', 'series', 'species', 'news', 'info', 'metadata', 'equipment', 'staff']);

/** The singular of the last word of a snake_case name (`invoice_lines` -> `invoice_line`). */
export function singular(name: string): string {
  const parts = words(name);
  const last = parts.pop() ?? '';
  return [...parts, singularWord(last)].join('_');
}

function singularWord(word: string): string {
  if (UNCOUNTED.has(word)) return word;
  if (/[^aeiou]ies$/.test(word)) return `${word.slice(0, -3)}y`;
  if (/(ss|x|z|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (/(ss|us|is)$/.test(word)) return word;
  if (word.endsWith('s') && word.length > 1) return word.slice(0, -1);
  return word;
}

/** The plural of a camelCase or PascalCase name's last word (`invoiceLine` -> `invoiceLines`). */
export function plural(name: string): string {
  const match = /^(.*?)([A-Z]?[a-z0-9]*)$/.exec(name);
  const head = match?.[1] ?? '';
  const last = match?.[2] ?? name;
  const lower = last.toLowerCase();
  if (UNCOUNTED.has(lower)) return name;
  if (/[^aeiou]y$/.test(lower)) return `${head}${last.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${head}${last}es`;
  return `${head}${last}s`;
}

/** The first letter in lower case: the variable a definition is exported as (`MediaType` -> `mediaType`). */
export const lowerFirst = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1);
