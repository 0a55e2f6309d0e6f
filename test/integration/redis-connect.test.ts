import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/cache/redis-store.js';
import { freePort, OwnRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * RedisStore.connect() against Redis servers that are not there, not talking,
 * or late: the wait is bounded by connectTimeoutMs and leaves no listeners behind.
 */
const stores: RedisStore[] = [];
const storeFor = (url: string, connectTimeoutMs: number): RedisStore => {
  const store = new RedisStore({ url, connectTimeoutMs });
  stores.push(store);
  return store;
};
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
});

const listeners = (store: RedisStore) => ({
  ready: store.client.listenerCount('ready'),
  end: store.client.listenerCount('end'),
  error: store.client.listenerCount('error'),
});

async function elapsedRejection(attempt: Promise<void>): Promise<{ ms: number; message: string }> {
  const began = performance.now();
  try {
    await attempt;
  } catch (err) {
    return { ms: performance.now() - began, message: (err as Error).message };
  }
  throw new Error('connect() resolved');
}

describe('RedisStore.connect()', () => {
  it('waits for the connect timeout on a port nobody listens on, retrying, then rejects naming the address and the error', async () => {
    const store = storeFor('redis://127.0.0.1:1/0', 400);
    const before = listeners(store);
    const { ms, message } = await elapsedRejection(store.connect());
    // A refused connection does not end the wait at once: a retry may still succeed in time.
    expect(ms).toBeGreaterThanOrEqual(380);
    expect(ms).toBeLessThan(2_000);
    expect(message).toMatch(/127\.0\.0\.1:1 did not become ready within 400 ms/);
    expect(message).toMatch(/ECONNREFUSED/);
    // ioredis' own attempt may still hold a listener until its socket closes (late on a busy machine): ours are gone.
    await waitFor('the connection attempt to end', async () => listeners(store), (now) => JSON.stringify(now) === JSON.stringify(before), 10_000, 20);
  });

  it('leaves no listener behind however often it times out', async () => {
    const store = storeFor('redis://127.0.0.1:1/0', 50);
    const before = listeners(store);
    for (let i = 0; i < 12; i++) await elapsedRejection(store.connect());
    expect(listeners(store)).toEqual(before);
  });

  it('is bounded when the TCP connection succeeds but Redis never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as { port: number }).port;
    try {
      const store = storeFor(`redis://127.0.0.1:${port}/0`, 400);
      const { ms, message } = await elapsedRejection(store.connect());
      expect(ms).toBeGreaterThanOrEqual(380);
      expect(ms).toBeLessThan(2_000);
      expect(message).toMatch(/within 400 ms/);
      await store.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('resolves when Redis comes up while it waits', async () => {
    const redis = new OwnRedis(await freePort());
    const store = storeFor(redis.url, 10_000);
    const connecting = store.connect();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await redis.start();
    try {
      await connecting;
      expect(await store.client.ping()).toBe('PONG');
      expect(store.client.listenerCount('ready')).toBe(0);
    } finally {
      await store.close();
      await redis.stop();
    }
  });

  it('rejects at once on a closed store, and close() ends a wait in progress', async () => {
    const waiting = storeFor('redis://127.0.0.1:1/0', 10_000);
    const attempt = elapsedRejection(waiting.connect());
    await new Promise((resolve) => setTimeout(resolve, 100));
    await waiting.close();
    const { ms, message } = await attempt;
    expect(ms).toBeLessThan(2_000);
    expect(message).toMatch(/closed before Redis at 127\.0\.0\.1:1 became ready/);
    await expect(waiting.connect()).rejects.toThrow(/closed/);
  });
});
