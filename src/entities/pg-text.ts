/**
 * Postgres' own text forms of values, read exactly: both drivers hand the
 * types whose JavaScript forms would lose something (bigint, numeric, dates,
 * times, timestamps, arrays of them, enums) over as the text Postgres wrote
 * (db/database.ts), and these turn that text into what the cache stores and
 * GraphQL serves. Pure functions; no SQL.
 */

/** A one-dimensional array literal (`{1,NULL,"a b","x\"y"}`) as its elements' texts, NULL as null. */
export function parseArrayLiteral(text: string): (string | null)[] {
  // An array with explicit bounds ('[0:1]={a,b}') starts at its '='.
  const start = text.indexOf('{');
  if (start === -1 || !text.endsWith('}')) throw new TypeError(`Not an array literal: ${text.slice(0, 40)}`);
  const elements: (string | null)[] = [];
  let i = start + 1;
  const end = text.length - 1;
  if (i === end) return elements;
  while (i <= end) {
    if (text[i] === '"') {
      let value = '';
      i++;
      while (i < end && text[i] !== '"') {
        if (text[i] === '\\') i++;
        value += text[i];
        i++;
      }
      elements.push(value);
      i++; // the closing quote
    } else if (text[i] === '{') {
      throw new TypeError('Multi-dimensional arrays are not supported');
    } else {
      let next = text.indexOf(',', i);
      if (next === -1 || next > end) next = end;
      const raw = text.slice(i, next);
      elements.push(raw === 'NULL' ? null : raw);
      i = next;
    }
    i++; // the comma, or past the closing brace
  }
  return elements;
}

const TIMESTAMP = /^(-?\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?(?: BC)?$/;

/**
 * A timestamp as ISO-8601 in UTC with the precision Postgres keeps: at least
 * milliseconds, microseconds when it has them (`2026-11-26T10:59:18.123456Z`).
 * A text without a zone (a `timestamp without time zone`) is taken as UTC.
 * Postgres' `infinity` and `-infinity` stay as they are.
 */
export function isoTimestamp(text: string): string {
  if (text === 'infinity' || text === '-infinity') return text;
  const m = TIMESTAMP.exec(text);
  if (m === null) throw new TypeError(`Not a timestamp: ${text.slice(0, 40)}`);
  const [, y, mo, d, h, mi, s, fraction = '', z, sign, oh = '00', om = '00', os = '00'] = m as unknown as string[];
  let epochSeconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  if (Number(y) < 100) epochSeconds = shiftYear(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s));
  if (z === undefined && sign !== undefined) {
    const offset = Number(oh) * 3600 + Number(om) * 60 + Number(os);
    epochSeconds -= sign === '+' ? offset : -offset;
  }
  const whole = new Date(epochSeconds * 1000).toISOString().slice(0, 19);
  return `${whole}.${fractionDigits(fraction)}Z`;
}

/** Date.UTC reads years 0-99 as 1900-1999. */
function shiftYear(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return date.getTime() / 1000;
}

/** At least three digits, at most six, no trailing zeros past the third. */
function fractionDigits(fraction: string): string {
  const digits = fraction.padEnd(3, '0');
  return digits.length > 3 ? digits.replace(/0+$/, '').padEnd(3, '0') : digits;
}

const ISO_INPUT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO-8601 timestamp a client sent, in the form isoTimestamp serves (UTC, exact); undefined when it is not one. */
export function normalizeIsoInput(value: string): string | undefined {
  const m = ISO_INPUT.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone] = m as unknown as string[];
  const check = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  if (Number.isNaN(check.getTime()) || check.toISOString().slice(0, 19) !== `${y}-${mo}-${d}T${h}:${mi}:${s}`) return undefined;
  return isoTimestamp(`${y}-${mo}-${d} ${h}:${mi}:${s}${fraction ? `.${fraction}` : ''}${zone === 'Z' ? 'Z' : zone}`);
}

/** Postgres' `\x0a1b` form of bytea (or a Buffer / Uint8Array a driver made of it) as base64. */
export function base64OfBytea(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'string' && value.startsWith('\\x')) return Buffer.from(value.slice(2), 'hex').toString('base64');
  throw new TypeError('Expected bytea');
}
