import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { canonicalId, newId } from '../../src/ids.js';
import { createKeySpace } from '../../src/cache/keys.js';
import { backoffDelayMs } from '../../src/cache/backoff.js';
import { requireId, requireIds, requireName, requireSku } from '../../src/validation.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
  return 'no error';
};

describe('ids', () => {
  it('are UUIDv7, time-ordered and canonical', () => {
    const a = newId(1_000);
    const b = newId(2_000);
    expect(a < b).toBe(true);
    expect(a[14]).toBe('7');
    expect(canonicalId(a.toUpperCase())).toBe(a);
  });

  it.each(['', '1', 'x'.repeat(36), "01a21789-b7a9-7815-985e-b5ecbc8f55e'", '01a21789-b7a9-7815-985e-b5ecbc8f55e3 '])(
    'rejects malformed id %j',
    (raw) => expect(codeOf(() => requireId(raw))).toBe('BAD_USER_INPUT'),
  );

  it('bounds id lists at 500', () => {
    const ids = Array.from({ length: 501 }, () => newId());
    expect(codeOf(() => requireIds(ids))).toBe('BAD_USER_INPUT');
    expect(requireIds(ids.slice(0, 500))).toHaveLength(500);
  });
});

describe('text', () => {
  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['too long', 'x'.repeat(65)],
    ['whitespace', 'A B'],
    ['control characters', 'A\u0000B'],
  ])('rejects a sku that is %s', (_label, sku) => expect(codeOf(() => requireSku(sku))).toBe('BAD_USER_INPUT'));

  it('accepts unicode names up to 200 characters, counted as characters', () => {
    expect(requireName('Zange für Ösen ✓'.padEnd(200, '🙂').slice(0, 200))).toBeTruthy();
    expect(codeOf(() => requireName('🙂'.repeat(201)))).toBe('BAD_USER_INPUT');
  });
});

describe('keys', () => {
  it('hash-tag the type and id, and encode what could move the tag', () => {
    const keys = createKeySpace('fg');
    expect(keys.entity('Product', 'abc-1')).toBe('fg:{Product:abc-1}');
    expect(keys.lookup('Product', 'sku', 'A}{B')).toBe('fg:{Product.sku:A%7D%7BB}');
  });
});

describe('backoff', () => {
  it('grows exponentially within full jitter and a cap', () => {
    expect(backoffDelayMs(0, 25, () => 0.999)).toBeLessThan(25);
    expect(backoffDelayMs(3, 25, () => 0.999)).toBeLessThan(200);
    expect(backoffDelayMs(3, 25, () => 0.999)).toBeGreaterThan(190);
    expect(backoffDelayMs(30, 25, () => 0.999, 2000)).toBeLessThan(2000);
  });
});
