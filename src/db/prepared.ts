import type { Knex } from 'knex';

/**
 * Names for the statements the write path sends again and again, so that each
 * connection parses (and, after a few runs, plans) a text once and is then sent
 * only its name and values: a change statement with its outbox and list CTEs
 * is a few kilobytes of SQL that Postgres would otherwise parse and plan, and
 * the driver write, on every mutation. A name stands for one exact text; the
 * number of texts is bounded by the definitions (kinds of statements times the
 * shapes of their inner statements), and past MAX_NAMES a text goes unnamed.
 */
const names = new Map<string, string>();
const MAX_NAMES = 2000;

/** `raw` as a named prepared statement; `text` must be the exact text it compiles to, or determine it. */
export function prepared(raw: Knex.Raw, text: string): Knex.Raw {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_NAMES) return raw;
    name = `fg_${names.size + 1}`;
    names.set(text, name);
  }
  // knex hands a raw's options to the driver's query config: pg keeps a parsed statement per connection by name.
  return raw.options({ name });
}

/** The SQL text of a raw statement, placeholders unfilled (knex keeps it on the object). */
export const textOf = (raw: Knex.Raw): string => (raw as unknown as { readonly sql: string }).sql;
