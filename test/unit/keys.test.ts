import { describe, expect, it } from 'vitest';
import { createKeySpace } from '../../src/cache/keys.js';

describe('key encoding', () => {
  const keys = createKeySpace('fg');

  it('keeps plain ids readable and keeps braces, spaces and % out of the hash tag', () => {
    expect(keys.entity('Product', '0190f0e1-8a4b-7c3d-9e2f-1a2b3c4d5e6f')).toBe('fg:{Product:0190f0e1-8a4b-7c3d-9e2f-1a2b3c4d5e6f}');
    expect(keys.lookup('Product', 'sku', 'A}{B C%')).toBe('fg:{Product.sku:A%7D%7BB%20C%25}');
    expect(keys.lookup('Product', 'sku', 'Ω-😀')).toBe('fg:{Product.sku:%CE%A9-%F0%9F%98%80}');
  });

  it('never throws, and gives text that is not well-formed UTF-16 a key of its own', () => {
    const values = ['\ud800', '\udc00', 'a\ud800b', '\udc00\ud800', '\ufffd', '%uD800', '%25uD800', 'a\ud83d\ude00\ud800'];
    const encoded = values.map((value) => keys.lookup('Product', 'sku', value));
    // Different texts, different keys: a lone surrogate is not folded into U+FFFD or anything else.
    expect(new Set(encoded).size).toBe(values.length);
    for (const key of encoded) {
      expect(key).not.toMatch(/\p{Cs}/u);
      expect(key).toMatch(/^fg:\{Product\.sku:[A-Za-z0-9_.:%*!'()~-]*\}$/);
    }
    expect(keys.entity('Product', '\ud800')).toBe('fg:{Product:%uD800}');
  });
});
