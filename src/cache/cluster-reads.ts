import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { asError, execPipeline, isRedirect, type Reply } from './cluster-routing.js';

/**
 * Most keys one read script carries. Redis runs a script to its end before it
 * serves any other command, and the client bounds each command by its timeout:
 * the reads of 100 concurrent callers of 1,000 keys each, grouped into one
 * script of ~33,000 GETs per master, outlived the 500 ms default and failed
 * every one of them (and opened the breaker). A flight larger than this is
 * sent as several scripts, one after another on the master's connection, so
 * that each is bounded and other clients' commands run between them.
 */
export const READ_SCRIPT_MAX_KEYS = 1000;

/** A key's value, or why it could not be read. */
type Outcome = string | null | Error;

/** One caller's keys on one master, and how to answer it. */
interface Waiter {
  readonly keys: readonly string[];
  resolve(values: (string | null)[]): void;
  reject(err: Error): void;
}

/**
 * Batch reads on a Redis Cluster, grouped across callers as ioredis'
 * auto-pipelining groups them on one Redis, and one command per master.
 *
 * Per master, one read is out at a time. The reads callers ask for in the same
 * tick, or while it is out, wait and go out together in the next one: all their
 * distinct keys in one script (READ_VALUES_LUA) that returns every value, where
 * one GET per key would cost the client a command each. A read never joins one
 * that is already out: a caller that began after a write was acknowledged must
 * not get a value read before it.
 *
 * A flight of more than READ_SCRIPT_MAX_KEYS distinct keys goes out as several
 * scripts of at most that many keys, one after another, before the next flight.
 *
 * A master that answers a script with an error (one of its keys has moved or
 * is moving, or holds something GET refuses) gets the per-key path for that
 * script's keys, the one every read took before: one GET per key in one pipeline, and
 * each GET refused with MOVED or ASK sent again through ioredis' cluster
 * routing. So every key ends with its value or its own error, and a caller gets
 * its values in key order or the error of one of its own keys. A master that
 * does not answer (timeout, lost connection) fails the callers that asked it
 * for something, no others.
 */
export class ClusterReads {
  private readonly masters = new WeakMap<Redis, MasterReads>();
  private readonly fetch = (node: Redis, keys: readonly string[]) => this.fetchFrom(node, keys);

  /**
   * `route` groups keys by the master connection that serves them (or throws);
   * `failed` is told of every error (it refreshes the slot map) and returns the
   * error to report.
   */
  constructor(
    private readonly client: Cluster,
    private readonly route: (keys: readonly string[]) => Map<Redis, number[]>,
    private readonly failed: (err: Error) => Error,
  ) {}

  async read(keys: readonly string[]): Promise<(string | null)[]> {
    const groups = this.route(keys);
    const [first] = groups;
    if (groups.size === 1 && first) return this.on(first[0]).read(keys);
    const values = new Array<string | null>(keys.length);
    await Promise.all(
      Array.from(groups, async ([node, indices]) => {
        const part = await this.on(node).read(indices.map((i) => keys[i] as string));
        indices.forEach((i, j) => (values[i] = part[j] as string | null));
      }),
    );
    return values;
  }

  private on(node: Redis): MasterReads {
    let reads = this.masters.get(node);
    if (!reads) this.masters.set(node, (reads = new MasterReads(node, this.fetch)));
    return reads;
  }

  /** One outcome per key, in order, in scripts of at most READ_SCRIPT_MAX_KEYS keys sent one after another; never rejects. */
  private async fetchFrom(node: Redis, keys: readonly string[]): Promise<Outcome[]> {
    if (keys.length <= READ_SCRIPT_MAX_KEYS) return this.fetchPart(node, keys);
    const outcomes: Outcome[] = [];
    for (let start = 0; start < keys.length; start += READ_SCRIPT_MAX_KEYS) {
      outcomes.push(...(await this.fetchPart(node, keys.slice(start, start + READ_SCRIPT_MAX_KEYS))));
    }
    return outcomes;
  }

  /** One script (a lone GET for one key), or one GET per key if the master refuses it. */
  private async fetchPart(node: Redis, keys: readonly string[]): Promise<Outcome[]> {
    if (keys.length > 1) {
      try {
        const values = await node.readValues(...keys);
        if (values.length === keys.length) return values;
        return keys.map(() => this.failed(new Error(`Redis read script answered ${values.length} values for ${keys.length} keys`)));
      } catch (err) {
        const error = asError(err);
        if (!(error instanceof ReplyError)) {
          const reported = this.failed(error);
          return keys.map(() => reported);
        }
      }
    }
    return this.oneByOne(node, keys);
  }

  /** One GET per key (a lone GET for one key); MOVED or ASK sends that GET again through the cluster's routing. */
  private async oneByOne(node: Redis, keys: readonly string[]): Promise<Outcome[]> {
    let replies: Reply[];
    try {
      const [only] = keys;
      replies =
        keys.length === 1 && only !== undefined
          ? [await node.get(only).then((value): Reply => [null, value], (err: unknown): Reply => [asError(err), null])]
          : await execPipeline(node, (pipeline) => {
              for (const key of keys) pipeline.get(key);
            });
    } catch (err) {
      const reported = this.failed(asError(err));
      return keys.map(() => reported);
    }
    return Promise.all(
      keys.map(async (key, i): Promise<Outcome> => {
        const [err, value] = replies[i] ?? [new Error('missing pipeline reply'), null];
        if (err === null) return value as string | null;
        if (!isRedirect(err)) return this.failed(err);
        try {
          return await this.client.get(key);
        } catch (resendErr) {
          return this.failed(asError(resendErr));
        }
      }),
    );
  }
}

/** The reads of one master connection: one out at a time, the rest queued for the next. */
class MasterReads {
  private waiting: Waiter[] = [];
  /** A read is out on this connection, or about to go at the end of this tick. */
  private busy = false;

  constructor(
    private readonly node: Redis,
    private readonly fetch: (node: Redis, keys: readonly string[]) => Promise<Outcome[]>,
  ) {}

  read(keys: readonly string[]): Promise<(string | null)[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ keys, resolve, reject });
      if (!this.busy) {
        this.busy = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  private flush(): void {
    const waiters = this.waiting;
    this.waiting = [];
    const [only] = waiters;
    // One caller needs no merging; several share each distinct key.
    const positions = waiters.length === 1 ? undefined : distinctKeys(waiters);
    const keys = positions === undefined ? (only as Waiter).keys : [...positions.keys()];
    void this.fetch(this.node, keys)
      .then(
        (outcomes) => {
          for (const waiter of waiters) answer(waiter, outcomes, positions);
        },
        (err: unknown) => {
          for (const waiter of waiters) waiter.reject(asError(err));
        },
      )
      .finally(() => {
        if (this.waiting.length > 0) this.flush();
        else this.busy = false;
      });
  }
}

/** Each distinct key of the waiters and its position among them, in first-seen order. */
function distinctKeys(waiters: readonly Waiter[]): Map<string, number> {
  const positions = new Map<string, number>();
  for (const waiter of waiters) for (const key of waiter.keys) if (!positions.has(key)) positions.set(key, positions.size);
  return positions;
}

/** The waiter's values in its key order, or the error of the first of its keys that failed. */
function answer(waiter: Waiter, outcomes: readonly Outcome[], positions: ReadonlyMap<string, number> | undefined): void {
  const values = new Array<string | null>(waiter.keys.length);
  for (let i = 0; i < waiter.keys.length; i++) {
    const outcome = outcomes[positions === undefined ? i : (positions.get(waiter.keys[i] as string) as number)];
    if (outcome === undefined) return waiter.reject(new Error('missing read reply'));
    if (outcome instanceof Error) return waiter.reject(outcome);
    values[i] = outcome;
  }
  waiter.resolve(values);
}
