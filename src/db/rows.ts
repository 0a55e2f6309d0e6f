/** Timestamps leave the database as ISO-8601 strings, so a row survives a JSON round trip unchanged. */
export function toIso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return new Date(value).toISOString();
  throw new TypeError(`Expected a timestamp, got ${typeof value}`);
}

/** pg returns bigint and count(*) as strings, PGlite as numbers. */
export function toInt(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError(`Expected an integer, got ${String(value)}`);
  return n;
}

/** knex.raw's result differs between pg (`{ rows }`) and PGlite (`{ rows }` too, but typed loosely). */
export function rowsOf(result: unknown): Record<string, unknown>[] {
  const rows = (result as { rows?: unknown }).rows;
  if (!Array.isArray(rows)) throw new TypeError('Unexpected database result');
  return rows as Record<string, unknown>[];
}
