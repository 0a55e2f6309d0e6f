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

/** Deletes every key under `prefix` (and nothing else); returns how many. */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Keys under `prefix`, counted with SCAN (the bench's DB may hold others' keys). */
export async function countByPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 10000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}
