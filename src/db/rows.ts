/** knex.raw's result differs between pg (`{ rows }`) and PGlite (`{ rows }` too, but typed loosely). */
export function rowsOf(result: unknown): Record<string, unknown>[] {
  const rows = (result as { rows?: unknown }).rows;
  if (!Array.isArray(rows)) throw new TypeError('Unexpected database result');
  return rows as Record<string, unknown>[];
}
