import { describe, expect, it } from 'vitest';
import { isoDate, isoTimestamp, normalizeIsoDate, normalizeIsoInput, parseArrayLiteral, postgresDate, postgresTimestamp } from '../../src/entities/pg-text.js';
import { DateScalar, DateTime } from '../../src/resolvers/scalars.js';

// Postgres' text forms of dates and timestamps, as served (ISO 8601) and back as Postgres reads them.
// test/integration/column-types.test.ts runs the same values through a real Postgres and every path.

describe('dates', () => {
  it.each([
    ['2026-12-04', '2026-12-04'],
    ['0001-01-01', '0001-01-01'],
    ['0001-12-31 BC', '0000-12-31'],
    ['0044-03-15 BC', '-000043-03-15'],
    ['12345-06-07', '+012345-06-07'],
    ['5874897-12-31', '+5874897-12-31'],
    ['infinity', 'infinity'],
    ['-infinity', '-infinity'],
  ])('%s is served as %s, and that is read back as the same date', (pg, served) => {
    expect(isoDate(pg)).toBe(served);
    expect(normalizeIsoDate(served)).toBe(served);
    expect(postgresDate(served)).toBe(pg);
  });

  it.each(['2026-02-29', '2026-13-01', '2026-00-10', '-000000-01-01', '12345-01-01', '2026-1-01', '2026-12-04T00:00:00Z', ''])('refuses %j', (input) => {
    expect(normalizeIsoDate(input)).toBeUndefined();
    expect(() => DateScalar.parseValue(input)).toThrow(/Date must be/);
  });

  it('takes 29 February in a leap year, BC included (1 BC is year 0, a leap year)', () => {
    expect(normalizeIsoDate('2024-02-29')).toBe('2024-02-29');
    expect(normalizeIsoDate('0000-02-29')).toBe('0000-02-29');
    expect(normalizeIsoDate('-000100-02-29')).toBeUndefined();
  });
});

describe('timestamps', () => {
  it.each([
    ['2026-12-04 01:02:03.123456+00', '2026-12-04T01:02:03.123456Z', '2026-12-04T01:02:03.123456Z'],
    ['2026-12-04 01:02:03', '2026-12-04T01:02:03.000Z', '2026-12-04T01:02:03.000Z'],
    ['0044-03-15 12:00:00+00 BC', '-000043-03-15T12:00:00.000Z', '0044-03-15 12:00:00.000+00 BC'],
    ['0001-12-31 23:59:59.5+00 BC', '0000-12-31T23:59:59.500Z', '0001-12-31 23:59:59.500+00 BC'],
    ['12345-06-07 08:09:10+00', '+012345-06-07T08:09:10.000Z', '12345-06-07 08:09:10.000+00'],
    ['infinity', 'infinity', 'infinity'],
  ])('%s is served as %s and bound as %s', (pg, served, bound) => {
    expect(isoTimestamp(pg)).toBe(served);
    expect(normalizeIsoInput(served)).toBe(served);
    expect(postgresTimestamp(served)).toBe(bound);
  });

  it('applies an offset, across a year boundary and before year 1', () => {
    expect(isoTimestamp('2026-01-01 01:00:00+02')).toBe('2025-12-31T23:00:00.000Z');
    expect(normalizeIsoInput('2026-06-01T07:30:00.000001-04:30')).toBe('2026-06-01T12:00:00.000001Z');
    expect(normalizeIsoInput('0001-01-01T00:30:00+01:00')).toBe('0000-12-31T23:30:00.000Z');
  });

  it.each(['2026-12-04 10:00', '2026-12-04T24:00:00Z', '2026-02-30T00:00:00Z', '2026-12-04T10:00:00', '2026-12-04T10:00:00+24:00', 'Infinity'])('refuses %j', (input) => {
    expect(normalizeIsoInput(input)).toBeUndefined();
    expect(() => DateTime.parseValue(input)).toThrow(/DateTime must be/);
  });
});

describe('array literals', () => {
  it('reads quotes, backslashes, NULL and the text "NULL", and refuses a second dimension', () => {
    expect(parseArrayLiteral('{"",NULL,"NULL","a,b","q\\"x","back\\\\slash"}')).toEqual(['', null, 'NULL', 'a,b', 'q"x', 'back\\slash']);
    expect(parseArrayLiteral('[0:1]={a,b}')).toEqual(['a', 'b']);
    expect(parseArrayLiteral('{}')).toEqual([]);
    expect(() => parseArrayLiteral('{{1,2},{3,4}}')).toThrow(/Multi-dimensional/);
  });
});
