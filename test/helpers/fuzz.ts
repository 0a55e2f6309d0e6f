import { connect } from 'node:net';
import { randomUUID } from 'node:crypto';

/**
 * Building blocks of the seeded fuzz test (test/graphql/fuzz.test.ts): a source
 * of choices driven by one seeded PRNG, the odd values a careless or hostile
 * client sends, and a raw HTTP exchange for requests no HTTP client would send.
 */
export class Choices {
  constructor(readonly random: () => number) {}

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  /** One of `items`, each as likely as its weight. */
  weighted<T extends { readonly weight: number }>(items: readonly T[]): T {
    const total = items.reduce((sum, item) => sum + item.weight, 0);
    let at = this.random() * total;
    for (const item of items) {
      at -= item.weight;
      if (at < 0) return item;
    }
    return items[items.length - 1] as T;
  }

  /** A UUID drawn from the seed (valid syntax, names no row). */
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(0, 15).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
  }
}

/** Text a well-meaning client would not send. */
export const ODD_TEXT: readonly string[] = [
  '',
  ' ',
  '\t\n',
  'two words',
  'x'.repeat(65),
  'y'.repeat(201),
  'z'.repeat(5000),
  'a\u0000b',
  'bell\u0007',
  '\u202eevil',
  'line\u2028sep',
  '\ud800',
  'lone-\udc00',
  '\ud83d',
  'pair-\ud83d\ude00',
  'Ωmega',
  '"quoted"',
  "'; drop table products; --",
  '{Product:1}',
  '%s%n%x',
  '\\',
  '__proto__',
  'constructor',
  '\ufffd',
  '\uffff',
];

/** Id-shaped and not id-shaped strings. */
export const ODD_IDS: readonly string[] = [
  '',
  'x',
  '0',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-7fff-bfff-ffffffffffff',
  'FFFFFFFF-FFFF-7FFF-BFFF-FFFFFFFFFFFF',
  '{0190f0e1-8a4b-7c3d-9e2f-1a2b3c4d5e6f}',
  ' 0190f0e1-8a4b-7c3d-9e2f-1a2b3c4d5e6f',
  '0190f0e1-8a4b-7c3d-9e2f-1a2b3c4d5e6\ud800',
  '0190f0e1-8a4b-7c3d-9e2f-1a2b3c4d5e6g',
  '../../../etc/passwd',
  'Product:1',
  '1; select pg_sleep(10)',
  'é'.repeat(36),
  'i'.repeat(3000),
];

/** Numbers around every boundary the schema and Postgres have. */
export const ODD_INTS: readonly number[] = [
  0, -1, 1, 2, -2, 99, -99, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53, 2 ** 63, 1e300, -1e300, 1.5, -0.25, Number.MAX_SAFE_INTEGER,
];

/** Values of the wrong type for any argument. */
export const WRONG_TYPES: readonly unknown[] = [null, true, false, [], {}, [1, 2], { id: 1 }, 'text', 3, [null], [[[]]], { __typename: 'Product' }];

/** A GraphQL literal for `value`; may well be invalid GraphQL, which is part of the point. */
export function toLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(toLiteral).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${toLiteral(v)}`)
    .join(', ')}}`;
}

export interface RawAnswer {
  /** Undefined when no status line arrived (the server closed first, as it may for garbage). */
  readonly status: number | undefined;
  readonly text: string;
}

/**
 * Writes `bytes` to a fresh connection and reads until the server closes it or a
 * whole response (by content-length) arrived. `abortAfterMs` hangs up that long
 * after writing, without waiting for an answer (a client that gives up mid-body).
 */
export function rawExchange(port: number, bytes: string, options: { abortAfterMs?: number; timeoutMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) return reject(error);
      const text = Buffer.concat(chunks).toString('utf8');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match ? Number(match[1]) : undefined, text });
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${options.timeoutMs ?? 10_000} ms`)), options.timeoutMs ?? 10_000);
    socket.on('connect', () => {
      socket.write(bytes);
      if (options.abortAfterMs !== undefined) setTimeout(() => finish(), options.abortAfterMs);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (end !== -1 && length && text.length - end - 4 >= Number(length[1])) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // The server may answer and close while we are still writing.
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? finish() : finish(err)));
  });
}

/** A label for a value in a failure message, short enough to read. */
export function shortText(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 400 ? `${text.slice(0, 400)}... (${text.length} characters)` : text;
}

/** A run-unique suffix, so that skus from a replayed seed do not meet skus of an earlier run. */
export const RUN = randomUUID().slice(0, 8);
