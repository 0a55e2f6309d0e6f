import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import type { Knex } from 'knex';

/**
 * Counts network round trips of one ioredis connection by counting writes to
 * its socket: a command, an auto-pipelined group or an explicit pipeline is
 * written to the socket once and answered together.
 */
export function countRedisRoundTrips(client: Redis): { readonly count: number; reset(): void; stop(): void } {
  const stream = (client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
  const original = stream.write;
  let count = 0;
  stream.write = function patchedWrite(this: unknown, ...args: unknown[]) {
    count++;
    return original.apply(this, args);
  };
  return {
    get count() {
      return count;
    },
    reset: () => void (count = 0),
    stop: () => void (stream.write = original),
  };
}

/**
 * Counts round trips to each master of a Redis Cluster client, by connection:
 * `max` is what a caller waits when all masters are reached in parallel, `perMaster`
 * shows that no master was asked twice. Connect the client to every master first.
 */
export function countClusterRoundTrips(...clients: Cluster[]): {
  readonly perMaster: Map<string, number>;
  readonly max: number;
  readonly total: number;
  reset(): void;
  stop(): void;
} {
  const counters = clients.flatMap((client, c) =>
    client.nodes('master').map((node) => ({ name: `${c}/${node.options.host}:${node.options.port}`, counter: countRedisRoundTrips(node) })),
  );
  return {
    get perMaster() {
      return new Map(counters.map(({ name, counter }) => [name, counter.count]));
    },
    get max() {
      return Math.max(0, ...counters.map(({ counter }) => counter.count));
    },
    get total() {
      return counters.reduce((sum, { counter }) => sum + counter.count, 0);
    },
    reset: () => counters.forEach(({ counter }) => counter.reset()),
    stop: () => counters.forEach(({ counter }) => counter.stop()),
  };
}

/**
 * Counts SQL statements that this knex instance sends, with their text. By
 * default the background bookkeeping of the outbox (clearing and repair
 * passes) is left out: it is not part of any request.
 */
export function countSql(
  knex: Knex,
  include: (sql: string) => boolean = (sql) => !/cache_outbox/.test(sql),
): { readonly count: number; readonly statements: string[]; reset(): void; stop(): void } {
  const statements: string[] = [];
  const onQuery = (q: { sql: string }) => void (include(q.sql) && statements.push(q.sql));
  knex.on('query', onQuery);
  return {
    get count() {
      return statements.length;
    },
    statements,
    reset: () => void (statements.length = 0),
    stop: () => void knex.removeListener('query', onQuery),
  };
}

/** The cost counters of one test app: Redis round trips of its cache connection and its SQL statements. */
export interface CostCounters {
  readonly redisTrips: ReturnType<typeof countRedisRoundTrips>;
  readonly sql: ReturnType<typeof countSql>;
}

/**
 * Registers hooks that count an app's Redis round trips and SQL statements,
 * reset before each test once background cache work has settled. Call it
 * after the hook that starts the app.
 */
export function costCounters(app: () => { running: { deps: { store: unknown; db: { knex: Knex }; cache: { idle(): Promise<void> } } } }): CostCounters {
  let redisTrips: ReturnType<typeof countRedisRoundTrips> | undefined;
  let sql: ReturnType<typeof countSql> | undefined;
  beforeAll(() => {
    const { deps } = app().running;
    redisTrips = countRedisRoundTrips((deps.store as { client: Redis }).client);
    sql = countSql(deps.db.knex);
  });
  afterAll(() => {
    redisTrips?.stop();
    sql?.stop();
  });
  beforeEach(async () => {
    await app().running.deps.cache.idle();
    redisTrips?.reset();
    sql?.reset();
  });
  return {
    get redisTrips() {
      if (!redisTrips) throw new Error('cost counters are not running');
      return redisTrips;
    },
    get sql() {
      if (!sql) throw new Error('cost counters are not running');
      return sql;
    },
  };
}

/**
 * Counts the commands one ioredis connection sends, by name (a pipeline of N
 * commands counts N; an auto-pipelined group counts each command).
 */
export function countRedisCommands(client: Redis): { readonly names: string[]; reset(): void; stop(): void } {
  const target = client as unknown as { sendCommand: (command: { name: string }, ...rest: unknown[]) => unknown };
  const original = target.sendCommand;
  const names: string[] = [];
  target.sendCommand = function patchedSendCommand(this: unknown, command: { name: string }, ...rest: unknown[]) {
    names.push(command.name);
    return original.call(this, command, ...rest);
  };
  return {
    names,
    reset: () => void (names.length = 0),
    stop: () => void (target.sendCommand = original),
  };
}
