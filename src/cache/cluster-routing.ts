import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';

/** One reply of a pipeline, as ioredis gives it. */
export type Reply = [Error | null, unknown];

/** Replies that mean "this key is served by another node": the command did not run, and may be sent there. */
export const isRedirect = (err: Error): boolean => err.message.startsWith('MOVED ') || err.message.startsWith('ASK ');

export const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/**
 * The indices of `keys` grouped by the connection to the master that the
 * client's slot map names for each key's slot. Throws when a slot has no
 * master, or one this client has no connection to (it died, or the map is
 * stale).
 */
export function byMaster(client: Cluster, keys: readonly string[]): Map<Redis, number[]> {
  const connections = new Map<string, Redis>();
  for (const node of client.nodes('master')) connections.set(`${node.options.host}:${node.options.port}`, node);
  const groups = new Map<Redis, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const slot = calculateSlot(keys[i] as string);
    const master = client.slots[slot]?.[0];
    const node = master === undefined ? undefined : connections.get(master);
    if (node === undefined) throw new Error(`Redis Cluster slot ${slot} has no connected master (${master ?? 'none known'})`);
    const indices = groups.get(node);
    if (indices) indices.push(i);
    else groups.set(node, [i]);
  }
  return groups;
}

export async function execPipeline(node: Redis, queue: (pipeline: ChainableCommander) => void): Promise<Reply[]> {
  const pipeline = node.pipeline();
  queue(pipeline);
  const results = await pipeline.exec();
  if (results === null) throw new Error('Redis pipeline was discarded');
  return results;
}
