import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat } from './config.js';

export type { Logger };

export interface LoggerOptions {
  /** Where lines go. @default stdout */
  readonly destination?: DestinationStream;
  /** @default 'pretty' when the destination is a terminal, else 'json' */
  readonly format?: LogFormat | undefined;
}

/**
 * JSON lines on stdout (or `destination`, for tests), or the same entries as
 * readable lines for a person at a terminal. Nothing logs headers, variables or
 * the config; the redaction below is the second line of defence should a future
 * log call pass one of them. It applies to both formats: pretty lines are made
 * from the JSON line pino has already redacted.
 */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const out = options.destination ?? process.stdout;
  const format = options.format ?? (isTerminal(out) ? 'pretty' : 'json');
  return pino(
    {
      name: 'freshgraph',
      level,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-router-secret"]',
          'headers.authorization',
          'headers["x-router-secret"]',
          'config.databaseUrl',
          'config.redisUrl',
          'config.routerSecret',
          'config.writeTokens',
          'routerSecret',
          'writeTokens',
        ],
        censor: '[redacted]',
      },
    },
    // Unset, pino writes JSON to fd 1 itself, faster than through process.stdout.
    format === 'pretty' ? prettyLines(out, isTerminal(out)) : options.destination,
  );
}

const isTerminal = (stream: DestinationStream): boolean => (stream as { isTTY?: boolean }).isTTY === true;

/** A destination that writes each of pino's JSON lines to `out` as one readable line. */
export function prettyLines(out: DestinationStream, colors: boolean): DestinationStream {
  return { write: (line: string) => void out.write(formatPretty(line, colors)) };
}

const LEVELS: Readonly<Record<number, readonly [label: string, color: string]>> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO', '32'],
  40: ['WARN', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};
// The same on every line, or shown in the columns before the message.
const UNSHOWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'component']);
// The request line's own columns, in this order; other fields follow as key=value.
const REQUEST_COLUMNS = ['method', 'path', 'type', 'operation', 'status', 'durationMs', 'reqId'] as const;

/**
 * `14:02:07.413 INFO  POST /graphql query ProductBySku 200 2.41ms hits=1 misses=0 req=5f0c…`
 * for the request log, `14:02:07.101 WARN  [cache] message key=value …` for everything else.
 * A line that is not pino's JSON passes through unchanged.
 */
export function formatPretty(line: string, colors = false): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return line;
  const fields = entry as Record<string, unknown>;
  const paint = (color: string, text: string) => (colors ? `\u001b[${color}m${text}\u001b[0m` : text);
  const level = typeof fields['level'] === 'number' ? fields['level'] : 30;
  const [label, color] = LEVELS[level] ?? [String(level), '0'];
  const time = typeof fields['time'] === 'number' ? clockTime(new Date(fields['time'])) : '';
  const component = typeof fields['component'] === 'string' ? `[${fields['component']}] ` : '';
  const isRequest = fields['msg'] === 'request' && typeof fields['reqId'] === 'string';
  const body = isRequest ? requestColumns(fields) : `${component}${oneLine(String(fields['msg'] ?? ''))}`;
  const rest = Object.entries(fields)
    .filter(([key, value]) => value !== undefined && !UNSHOWN.has(key) && !(isRequest && (REQUEST_COLUMNS as readonly string[]).includes(key)))
    .map(([key, value]) => `${key}=${key === 'err' ? shown(errorMessage(value)) : shown(value)}`);
  const stack = level >= 50 ? indentedStack(fields['err']) : '';
  return `${paint('2', time)} ${paint(color, label.padEnd(5))} ${[body, ...rest].join(' ')}\n${stack}`;
}

function requestColumns(fields: Record<string, unknown>): string {
  const duration = typeof fields['durationMs'] === 'number' ? `${fields['durationMs']}ms` : undefined;
  const columns = [fields['method'], fields['path'], fields['type'], fields['operation'], fields['status'], duration];
  return [...columns.filter((column) => column !== undefined && column !== '').map(shown), `req=${shown(fields['reqId'])}`].join(' ');
}

/**
 * Plain when it is one printable word, JSON otherwise: an operation name or a
 * message can never start a line of its own or pass for another field.
 */
function shown(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string' || typeof item === 'number')) {
    return shown(value.join(','));
  }
  if (typeof value !== 'string') return JSON.stringify(value);
  return /^[\x21-\x7e]*$/.test(value) && !value.includes('"') ? value : JSON.stringify(value);
}

/** A message as written, with control characters escaped so that it stays on its line. */
const oneLine = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f]/g, (char) => JSON.stringify(char).slice(1, -1));

function errorMessage(err: unknown): unknown {
  if (typeof err === 'object' && err !== null && 'message' in err) return (err as { message: unknown }).message;
  return err;
}

function indentedStack(err: unknown): string {
  const stack = typeof err === 'object' && err !== null ? (err as { stack?: unknown }).stack : undefined;
  if (typeof stack !== 'string') return '';
  // The first line of a stack repeats the message, which err= already shows.
  return stack
    .split('\n')
    .slice(1)
    .map((frame) => `    ${frame.trim()}\n`)
    .join('');
}

function clockTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}
