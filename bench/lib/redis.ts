import { Redis } from 'ioredis';

export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
  } catch (err) {
    throw new Error(`Cannot reach Redis at ${url}. Is it running? Pass --redis-url.`, { cause: err });
  }
  return redis;
}

/** Every key under `prefix`, in SCAN batches (the bench's DB may hold others' keys). */
async function* keysByPrefix(redis: Redis, prefix: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== '0');
}

/** Deletes every key under `prefix` (and nothing else) but `keep`; returns how many. */
export async function deleteByPrefix(redis: Redis, prefix: string, keep?: string): Promise<number> {
  let deleted = 0;
  for await (const found of keysByPrefix(redis, prefix)) {
    const keys = keep === undefined ? found : found.filter((key) => key !== keep);
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  }
  return deleted;
}

/** Keys under `prefix`, counted with SCAN. */
export async function countByPrefix(redis: Redis, prefix: string): Promise<number> {
  let count = 0;
  for await (const keys of keysByPrefix(redis, prefix)) count += keys.length;
  return count;
}
