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
      throw new TypeError('Multi-dimensional arrays are not supported (CHECK (array_ndims(column) = 1) keeps them out)');
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

const TIMESTAMP = /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?( BC)?$/;
const DATE = /^(\d{4,})-(\d{2})-(\d{2})( BC)?$/;

/**
 * A year as ISO 8601 writes it, and JavaScript's Date reads it: four digits
 * from 0 to 9999 (0 is 1 BC, -1 is 2 BC: astronomical numbering), else a sign
 * and six digits or more (`-000043` is 44 BC, `+012345`).
 */
function isoYear(year: number): string {
  if (year >= 0 && year <= 9999) return String(year).padStart(4, '0');
  return `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
}

/** Postgres' year (`0044` with ` BC`) as an astronomical one (-43). */
const astronomical = (year: string, bc: string | undefined): number => (bc === undefined ? Number(year) : 1 - Number(year));

/** A date as Postgres writes it with DateStyle ISO (`2026-12-04`, `0044-03-15 BC`, `12345-06-07`) in ISO 8601 (`-000043-03-15`); `infinity` and `-infinity` as they are. */
export function isoDate(text: string): string {
  if (text === 'infinity' || text === '-infinity') return text;
  const m = DATE.exec(text);
  if (m === null) throw new TypeError(`Not a date: ${text.slice(0, 40)}`);
  const [, y, mo, d, bc] = m as unknown as [string, string, string, string, string | undefined];
  return `${isoYear(astronomical(y, bc))}-${mo}-${d}`;
}

/**
 * A timestamp as ISO-8601 in UTC with the precision Postgres keeps: at least
 * milliseconds, microseconds when it has them (`2026-11-26T10:59:18.123456Z`),
 * years as isoYear writes them (`-000043-03-15T12:00:00.000Z` is 44 BC). A
 * text without a zone (a `timestamp without time zone`) is taken as UTC.
 * Postgres' `infinity` and `-infinity` stay as they are.
 */
export function isoTimestamp(text: string): string {
  if (text === 'infinity' || text === '-infinity') return text;
  const m = TIMESTAMP.exec(text);
  if (m === null) throw new TypeError(`Not a timestamp: ${text.slice(0, 40)}`);
  const [, y, mo, d, h, mi, s, fraction = '', z, sign, oh = '00', om = '00', os = '00', bc] = m as unknown as string[];
  const year = astronomical(y as string, bc);
  const offset = z === undefined && sign !== undefined ? (sign === '+' ? 1 : -1) * (Number(oh) * 3600 + Number(om) * 60 + Number(os)) : 0;
  // Sessions are in UTC (db/database.ts): the fields are the answer. An offset is applied by Date, whose range is ±275,760 years.
  if (offset === 0) return `${isoYear(year)}-${mo}-${d}T${h}:${mi}:${s}.${fractionDigits(fraction)}Z`;
  const date = new Date(0);
  date.setUTCFullYear(year, Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s) - offset, 0);
  return `${formatUtc(date)}.${fractionDigits(fraction)}Z`;
}

/** `YYYY-MM-DDTHH:MM:SS` of a Date, in UTC, its year as isoYear writes it. */
function formatUtc(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${isoYear(date.getUTCFullYear())}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}

/** At least three digits, at most six, no trailing zeros past the third. */
function fractionDigits(fraction: string): string {
  const digits = fraction.padEnd(3, '0');
  return digits.length > 3 ? digits.replace(/0+$/, '').padEnd(3, '0') : digits;
}

const ISO_YEAR = '([+-]\\d{6,}|\\d{4})';
const ISO_DATE_INPUT = new RegExp(`^${ISO_YEAR}-(\\d{2})-(\\d{2})$`);
const ISO_INPUT = new RegExp(`^${ISO_YEAR}-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,6}))?(Z|[+-]\\d{2}:\\d{2})$`);

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** The astronomical year of an ISO year, or undefined for a day that is not in the calendar (`-000000` is not a year). */
function calendarYear(y: string, mo: string, d: string): number | undefined {
  if (/^-0+$/.test(y)) return undefined;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (!Number.isSafeInteger(year) || month < 1 || month > 12 || day < 1) return undefined;
  const last = month === 2 && isLeap(year) ? 29 : (DAYS[month - 1] as number);
  return day <= last ? year : undefined;
}

/** A date a client sent (`2026-12-04`, `-000043-03-15`, `infinity`), in the form isoDate serves; undefined when it is not one. */
export function normalizeIsoDate(value: string): string | undefined {
  if (value === 'infinity' || value === '-infinity') return value;
  const m = ISO_DATE_INPUT.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d] = m as unknown as [string, string, string, string];
  const year = calendarYear(y, mo, d);
  return year === undefined ? undefined : `${isoYear(year)}-${mo}-${d}`;
}

/** An ISO-8601 timestamp a client sent, in the form isoTimestamp serves (UTC, exact); undefined when it is not one. */
export function normalizeIsoInput(value: string): string | undefined {
  if (value === 'infinity' || value === '-infinity') return value;
  const m = ISO_INPUT.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone] = m as unknown as string[];
  const year = calendarYear(y as string, mo as string, d as string);
  if (year === undefined || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const offset = zone === 'Z' ? 0 : (zone?.startsWith('-') ? -1 : 1) * (Number(zone?.slice(1, 3)) * 3600 + Number(zone?.slice(4, 6)) * 60);
  if (Math.abs(offset) >= 24 * 3600) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s) - offset, 0);
  if (Number.isNaN(date.getTime())) return undefined;
  return `${formatUtc(date)}.${fractionDigits(fraction)}Z`;
}

/** The year of an ISO date or timestamp as Postgres reads it: `0044`, with ` BC` for 0 and before. */
function postgresYear(iso: string): { year: string; rest: string; bc: boolean } {
  const m = /^([+-]?\d+)(-.*)$/.exec(iso);
  if (m === null) throw new TypeError(`Not an ISO date: ${iso.slice(0, 40)}`);
  const year = Number(m[1]);
  return { year: String(year <= 0 ? 1 - year : year).padStart(4, '0'), rest: m[2] as string, bc: year <= 0 };
}

/** A date as isoDate serves it, as Postgres reads it (`-000043-03-15` -> `0044-03-15 BC`). */
export function postgresDate(iso: string): string {
  if (iso === 'infinity' || iso === '-infinity') return iso;
  const { year, rest, bc } = postgresYear(iso);
  return `${year}${rest}${bc ? ' BC' : ''}`;
}

/** A timestamp as isoTimestamp serves it (UTC), as Postgres reads it: ISO 8601 as it is for years 1 to 9999, else with its year and era spelled out. */
export function postgresTimestamp(iso: string): string {
  if (iso === 'infinity' || iso === '-infinity') return iso;
  if (/^\d{4}-/.test(iso) && !iso.startsWith('0000')) return iso;
  const { year, rest, bc } = postgresYear(iso);
  return `${year}${rest.replace('T', ' ').replace(/Z$/, '+00')}${bc ? ' BC' : ''}`;
}

/** Postgres' `\x0a1b` form of bytea (or a Buffer / Uint8Array a driver made of it) as base64. */
export function base64OfBytea(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'string' && value.startsWith('\\x')) return Buffer.from(value.slice(2), 'hex').toString('base64');
  throw new TypeError('Expected bytea');
}
