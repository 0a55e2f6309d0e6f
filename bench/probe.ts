/**
 * Loaded into every benchmarked server with `node --import ./bench/probe.ts`, so the
 * servers themselves carry no benchmark code. It counts, in that process:
 * - SQL statements sent through node-postgres (BEGIN and COMMIT included),
 * - Redis commands sent through ioredis (connection set-up and slot-map
 *   refreshes excluded), and the round trips they took: a pipeline (an
 *   auto-pipeline included) counts one per connection it is written to, a
 *   command sent alone counts one, and
 * - cache hits and misses as the replies of MGET and GET show them (a non-null
 *   value is a hit): keys for freshgraph's MGETs (and its cluster store's read
 *   script, whose reply is such values too), whole responses for the
 *   response-cache peer's GETs, and
 * - 2xx responses that carry GraphQL errors (Apollo writes `errors` first), so
 *   that the load generator need not read bodies.
 * plus the process's CPU time (user + system, all threads). The bench asks for
 * the counters over the IPC channel (`'probe:stats'`).
 */
import { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pg = require('pg') as { Client: { prototype: { query: (...args: unknown[]) => unknown } } };
const ioredis = require('ioredis') as { Redis: { prototype: { sendCommand: (command: Command, ...rest: unknown[]) => unknown } } };

interface Command {
  readonly name: string;
  readonly promise: Promise<unknown>;
}

/** ioredis hands every command of one pipeline execution the same object, marked isPipeline; that write is one round trip. */
interface PipelineStream {
  readonly isPipeline?: boolean;
}

const counters = { sql: 0, redis: 0, roundTrips: 0, hits: 0, misses: 0, graphqlErrors: 0 };
const SETUP = new Set(['info', 'select', 'client', 'ping', 'quit', 'hello', 'auth', 'script', 'cluster']);
const pipelinesSeen = new WeakSet<object>();

const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: unknown, ...args: unknown[]) {
  counters.sql++;
  return query.apply(this, args);
};

const sendCommand = ioredis.Redis.prototype.sendCommand;
ioredis.Redis.prototype.sendCommand = function countedCommand(this: unknown, command: Command, ...rest: unknown[]) {
  if (!SETUP.has(command.name)) {
    counters.redis++;
    const stream = rest[0] as PipelineStream | undefined;
    if (stream?.isPipeline !== true) counters.roundTrips++;
    else if (!pipelinesSeen.has(stream)) {
      pipelinesSeen.add(stream);
      counters.roundTrips++;
    }
    if (command.name === 'mget' || command.name === 'get') {
      command.promise.then(
        (reply) => {
          for (const value of Array.isArray(reply) ? reply : [reply]) {
            if (value === null) counters.misses++;
            else counters.hits++;
          }
        },
        () => undefined,
      );
    } else if (command.name === 'evalsha' || command.name === 'eval') {
      // The cluster store's read script answers values (strings and nulls); the other scripts answer numbers.
      command.promise.then(
        (reply) => {
          if (!Array.isArray(reply) || !reply.every((value) => value === null || typeof value === 'string' || Buffer.isBuffer(value))) return;
          for (const value of reply) {
            if (value === null) counters.misses++;
            else counters.hits++;
          }
        },
        () => undefined,
      );
    }
  }
  return sendCommand.call(this, command, ...rest);
};

const ERRORS_FIRST = '{"errors"';
const ERRORS_FIRST_BYTES = Buffer.from(ERRORS_FIRST);
// A body may be ended as a string (Apollo's standalone server) or as bytes (freshgraph's handler encodes once).
const startsWithErrors = (chunk: unknown): boolean =>
  typeof chunk === 'string'
    ? chunk.startsWith(ERRORS_FIRST)
    : chunk instanceof Uint8Array && chunk.length >= ERRORS_FIRST_BYTES.length && Buffer.compare(chunk.subarray(0, ERRORS_FIRST_BYTES.length), ERRORS_FIRST_BYTES) === 0;

const end = ServerResponse.prototype.end as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
ServerResponse.prototype.end = function countedEnd(this: ServerResponse, ...args: unknown[]) {
  if (this.statusCode < 300 && startsWithErrors(args[0])) counters.graphqlErrors++;
  return end.apply(this, args);
} as typeof ServerResponse.prototype.end;

if (process.send) {
  process.on('message', (message) => {
    if (message !== 'probe:stats') return;
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    process.send?.({
      type: 'probe:stats',
      ...counters,
      cpuUs: cpu.user + cpu.system,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
    });
  });
  // The channel must not keep a server alive once it has been told to stop.
  process.channel?.unref();
  // If the bench dies without stopping its servers, they stop themselves (gracefully, as on SIGTERM).
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
