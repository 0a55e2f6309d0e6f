import { performance } from 'node:perf_hooks';
import { seededRandom } from '../helpers/history.js';

/**
 * One operation as a client saw it: a product read or write (`id` the product),
 * or an order placed or an account's orders read (`id` the account).
 */
export interface Recorded {
  readonly kind: 'read' | 'write' | 'order' | 'list';
  readonly id: string;
  readonly instance: string;
  readonly start: number;
  readonly end: number;
  /** Version written or read; undefined for a failed op or a null read. */
  readonly version?: number;
  /** Coded GraphQL error, or a transport failure. */
  readonly error?: string;
  /** `order`: the order placed. */
  readonly orderId?: string;
  /** `list`: the account's orders as read (newest first), and their total. */
  readonly orderIds?: readonly string[];
  readonly total?: number;
}

/** Most orders a list read asks for; the workload keeps every account below it, so a read sees them all. */
export const LIST_PAGE = 100;

export interface Window {
  readonly label: string;
  readonly from: number;
  /** Until when reads may legitimately lag: the heal, plus the repair allowance. */
  readonly to: number;
}

export interface Instance {
  readonly name: string;
  readonly url: string;
  alive: boolean;
}

async function gql<T>(url: string, query: string, variables: Record<string, unknown>): Promise<{ data?: T; code?: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await res.json()) as { data?: T | null; errors?: { extensions?: { code?: string } }[] };
  if (body.errors?.length) return { code: String(body.errors[0]?.extensions?.code ?? 'UNKNOWN') };
  return { data: body.data ?? undefined };
}

/**
 * Concurrent GraphQL clients over HTTP against live instances: writers adjust
 * stock and place orders, readers read single products, batches and accounts'
 * orders. Every operation is recorded with its start and end.
 */
export class Workload {
  readonly ops: Recorded[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly instances: readonly Instance[],
    private readonly ids: readonly string[],
    private readonly seed: number,
    /** Accounts whose orders are placed and read; none: products only. */
    private readonly accounts: readonly string[] = [],
  ) {}

  start(writers = 3, readers = 6): void {
    const random = seededRandom(this.seed);
    const pickId = () => this.ids[Math.floor(random() * this.ids.length)] as string;
    const pickAccount = () => this.accounts[Math.floor(random() * this.accounts.length)] as string;
    const pickInstance = () => {
      const live = this.instances.filter((i) => i.alive);
      return live[Math.floor(random() * live.length)] as Instance;
    };
    const withLists = this.accounts.length > 0;
    const loops: Promise<void>[] = [];
    for (let w = 0; w < writers; w++) {
      loops.push(this.loop(() => (withLists && random() < 0.25 ? this.order(pickInstance(), pickAccount(), pickId()) : this.write(pickInstance(), pickId(), random() < 0.5 ? -1 : 1))));
    }
    for (let r = 0; r < readers; r++) {
      loops.push(
        this.loop(() => {
          const roll = random();
          if (withLists && roll < 0.25) return this.readOrders(pickInstance(), pickAccount());
          return roll < 0.6 ? this.readOne(pickInstance(), pickId()) : this.readMany(pickInstance(), Array.from({ length: 5 }, pickId));
        }),
      );
    }
    this.running = Promise.all(loops).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(step: () => Promise<void>): Promise<void> {
    while (!this.stopped) await step();
  }

  private async write(instance: Instance, id: string, delta: number): Promise<void> {
    const start = performance.now();
    try {
      const r = await gql<{ adjustStock: { version: number } }>(instance.url, 'mutation($id: ID!, $d: Int!) { adjustStock(id: $id, delta: $d) { version } }', { id, d: delta });
      this.ops.push({ kind: 'write', id, instance: instance.name, start, end: performance.now(), version: r.data?.adjustStock.version, error: r.code });
    } catch (err) {
      this.ops.push({ kind: 'write', id, instance: instance.name, start, end: performance.now(), error: transportError(err) });
    }
  }

  private async order(instance: Instance, accountId: string, productId: string): Promise<void> {
    const start = performance.now();
    try {
      const r = await gql<{ placeOrder: { id: string } }>(
        instance.url,
        'mutation($a: ID!, $p: ID!) { placeOrder(accountId: $a, lines: [{ productId: $p, quantity: 1 }]) { id } }',
        { a: accountId, p: productId },
      );
      this.ops.push({ kind: 'order', id: accountId, instance: instance.name, start, end: performance.now(), orderId: r.data?.placeOrder.id, error: r.code });
    } catch (err) {
      this.ops.push({ kind: 'order', id: accountId, instance: instance.name, start, end: performance.now(), error: transportError(err) });
    }
  }

  private async readOrders(instance: Instance, accountId: string): Promise<void> {
    const start = performance.now();
    try {
      const r = await gql<{ account: { orders: { totalCount: number; nodes: { id: string }[] } } | null }>(
        instance.url,
        `query($a: ID!) { account(id: $a) { orders(first: ${LIST_PAGE}) { totalCount nodes { id } } } }`,
        { a: accountId },
      );
      const orders = r.data?.account?.orders;
      this.ops.push({ kind: 'list', id: accountId, instance: instance.name, start, end: performance.now(), orderIds: orders?.nodes.map((n) => n.id), total: orders?.totalCount, error: r.code });
    } catch (err) {
      this.ops.push({ kind: 'list', id: accountId, instance: instance.name, start, end: performance.now(), error: transportError(err) });
    }
  }

  private async readOne(instance: Instance, id: string): Promise<void> {
    const start = performance.now();
    try {
      const r = await gql<{ product: { version: number } | null }>(instance.url, 'query($id: ID!) { product(id: $id) { version } }', { id });
      this.ops.push({ kind: 'read', id, instance: instance.name, start, end: performance.now(), version: r.data?.product?.version, error: r.code });
    } catch (err) {
      this.ops.push({ kind: 'read', id, instance: instance.name, start, end: performance.now(), error: transportError(err) });
    }
  }

  private async readMany(instance: Instance, ids: string[]): Promise<void> {
    const start = performance.now();
    try {
      const r = await gql<{ products: ({ id: string; version: number } | null)[] }>(instance.url, 'query($ids: [ID!]!) { products(ids: $ids) { id version } }', { ids });
      const end = performance.now();
      ids.forEach((id, i) => this.ops.push({ kind: 'read', id, instance: instance.name, start, end, version: r.data?.products[i]?.version, error: r.code }));
    } catch (err) {
      const end = performance.now();
      for (const id of ids) this.ops.push({ kind: 'read', id, instance: instance.name, start, end, error: transportError(err) });
    }
  }
}

const transportError = (err: unknown): string => `transport: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`;

export const inAny = (op: Recorded, windows: readonly Window[]): boolean => windows.some((w) => op.end >= w.from && op.start <= w.to);

/** Reads that returned a version older than one acknowledged before they began, and how far behind they were. */
export function staleReads(ops: readonly Recorded[]): { op: Recorded; behindMs: number }[] {
  const acked = new Map<string, Recorded[]>();
  for (const op of ops) if (op.kind === 'write' && op.version !== undefined) (acked.get(op.id) ?? acked.set(op.id, []).get(op.id))?.push(op);
  const stale: { op: Recorded; behindMs: number }[] = [];
  for (const op of ops) {
    if (op.kind !== 'read' || op.error !== undefined) continue;
    const newer = (acked.get(op.id) ?? []).filter((w) => w.end < op.start && (w.version ?? 0) > (op.version ?? 0));
    if (newer.length > 0) stale.push({ op, behindMs: op.start - Math.min(...newer.map((w) => w.end)) });
  }
  return stale;
}

/**
 * List reads that missed an order acknowledged before they began, or counted
 * fewer orders than were acknowledged before they began (every account stays
 * below LIST_PAGE orders, so a read returns all of them).
 */
export function staleLists(ops: readonly Recorded[]): { op: Recorded; missing: number; behindMs: number }[] {
  const placed = new Map<string, Recorded[]>();
  for (const op of ops) if (op.kind === 'order' && op.orderId !== undefined) (placed.get(op.id) ?? placed.set(op.id, []).get(op.id))?.push(op);
  const stale: { op: Recorded; missing: number; behindMs: number }[] = [];
  for (const op of ops) {
    if (op.kind !== 'list' || op.error !== undefined || op.orderIds === undefined) continue;
    const seen = new Set(op.orderIds);
    const before = (placed.get(op.id) ?? []).filter((o) => o.end < op.start);
    const missing = before.filter((o) => !seen.has(o.orderId as string));
    if (missing.length > 0 || (op.total ?? 0) < before.length) {
      stale.push({ op, missing: missing.length, behindMs: op.start - Math.min(...(missing.length > 0 ? missing : before).map((o) => o.end)) });
    }
  }
  return stale;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
