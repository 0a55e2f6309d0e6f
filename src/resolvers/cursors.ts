import type { FieldColumn } from '../entities/define.js';
import type { ListDefinition } from '../entities/lists.js';
import { badInput } from '../errors.js';
import { parseKey } from '../entities/columns.js';
import { normalizeIsoInput } from '../entities/pg-text.js';

/**
 * Opaque cursors of the Cursor Connections spec: base64url of JSON naming the
 * list (its name and owner), the member's key, and the member's order values
 * (so a page can still start where a member was after it left the list).
 * A cursor is checked in full before it is used: one that does not decode, has
 * the wrong shape, or belongs to another list is BAD_USER_INPUT.
 */
export interface DecodedCursor {
  readonly id: string;
  readonly values: readonly unknown[];
}

const VERSION = 1;

export function encodeCursor(list: ListDefinition, owner: string, id: string, values: readonly unknown[]): string {
  return Buffer.from(JSON.stringify([VERSION, list.name, owner, id, values])).toString('base64url');
}

/** A cursor that decodes and names `list`, with the owner it was made for; throws BAD_USER_INPUT otherwise. */
export function parseCursor(raw: string, list: ListDefinition, argument = 'after'): DecodedCursor & { readonly owner: string } {
  const invalid = () => badInput(`${argument} is not a cursor of this list`, argument);
  if (raw.length > 2048 || !/^[A-Za-z0-9_-]*$/.test(raw)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 5) throw invalid();
  const [version, name, owner, id, values] = parsed as unknown[];
  if (version !== VERSION || typeof name !== 'string' || typeof owner !== 'string') throw invalid();
  if (name !== list.name) throw anotherList(argument);
  const key = typeof id === 'string' ? list.member.parseKey(id) : undefined;
  if (key === undefined || !Array.isArray(values) || values.length !== list.order.length) throw invalid();
  list.order.forEach((term, i) => {
    if (!isValueOf(term.column, values[i])) throw invalid();
  });
  return { owner, id: key, values };
}

const anotherList = (argument: string) => badInput(`${argument} is a cursor of another list`, argument);

/** A cursor of `list` as owned by `owner`: parseCursor, and the owner must be the one it was made for. */
export function decodeCursor(raw: string, list: ListDefinition, owner: string, argument = 'after'): DecodedCursor {
  const cursor = parseCursor(raw, list, argument);
  if (cursor.owner !== owner) throw anotherList(argument);
  return { id: cursor.id, values: cursor.values };
}

/** Whether a cursor's order value is one the column's SQL cast accepts, so the keyset query cannot fail on it. */
function isValueOf(column: FieldColumn, value: unknown): boolean {
  if (column.array) return false;
  switch (column.kind) {
    case 'uuid':
    case 'smallint':
    case 'integer':
    case 'bigint':
      return (typeof value === 'string' || typeof value === 'number') && parseKey(column.kind, String(value)) !== undefined;
    case 'text':
      return typeof value === 'string' && value.length <= 4096 && !value.includes('\u0000');
    case 'numeric':
      return typeof value === 'string' && /^(-?\d+(\.\d+)?(e[+-]?\d+)?|NaN|-?Infinity)$/i.test(value);
    case 'real':
    case 'double':
      return (typeof value === 'number' && Number.isFinite(value)) || value === 'NaN' || value === 'Infinity' || value === '-Infinity';
    case 'boolean':
      return typeof value === 'boolean';
    case 'date':
      return typeof value === 'string' && /^(\d{4,}-\d{2}-\d{2}|-?infinity)$/.test(value);
    case 'time':
      return typeof value === 'string' && /^\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/.test(value);
    case 'timestamp':
    case 'timestamptz':
      return typeof value === 'string' && (normalizeIsoInput(value) !== undefined || value === 'infinity' || value === '-infinity');
    case 'enum':
      return typeof value === 'string' && [...(column.enumNames?.values() ?? [])].includes(value);
    case 'json':
    case 'jsonb':
    case 'bytea':
      return false;
  }
}
