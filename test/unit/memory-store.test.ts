import { describe, expect, it } from 'vitest';
import { createEnvelope, serializeEnvelope } from '../../src/cache/envelope.js';
import { MemoryStore } from '../../src/cache/memory-store.js';
import type { CasWrite } from '../../src/cache/store.js';

const write = (key: string, version = 1): CasWrite => ({
  key,
  value: serializeEnvelope(createEnvelope(version, { key }, 0, 60_000, 1)),
  version,
  ttlMs: 60_000,
});

describe('the in-process store under its size bound', () => {
  it('evicts the least recently used entry: a read keeps a hot key', async () => {
    const store = new MemoryStore({ maxEntries: 100 });
    try {
      await store.apply({ writes: Array.from({ length: 100 }, (_, i) => write(`k${i}`)) });
      // k0 is the oldest write but is read now: k1 becomes the least recently used.
      expect(await store.read(['k0'])).not.toEqual([null]);
      await store.apply({ writes: [write('k100')] });
      expect(store.size).toBe(100);
      const [k0, k1, k100] = await store.read(['k0', 'k1', 'k100']);
      expect(k0).not.toBeNull();
      expect(k1).toBeNull();
      expect(k100).not.toBeNull();
    } finally {
      await store.close();
    }
  });

  it('keeps keys that are read often while a stream of one-off keys passes through', async () => {
    const store = new MemoryStore({ maxEntries: 100 });
    try {
      const hot = Array.from({ length: 10 }, (_, i) => `hot${i}`);
      await store.apply({ writes: hot.map((k) => write(k)) });
      for (let round = 0; round < 50; round++) {
        // 20 keys nobody reads again (random absent ids), then the hot keys are read.
        await store.apply({ writes: Array.from({ length: 20 }, (_, i) => write(`cold${round}-${i}`, 0)) });
        expect((await store.read(hot)).every((raw) => raw !== null), `round ${round}`).toBe(true);
      }
    } finally {
      await store.close();
    }
  });
});
