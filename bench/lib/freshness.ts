/**
 * What the mixed workloads' load generator saw acknowledged, and the rules by
 * which a read is stale. Pure bookkeeping, no I/O (test/unit/bench-freshness.test.ts).
 * "Acknowledged before the read began" is exact here: JavaScript runs one
 * callback at a time, so what was recorded when a read was issued is what had
 * been acknowledged by then.
 */

/**
 * Per product (by id rank): the highest version any adjustStock response
 * returned. A read is stale when it returns a lower version than the one
 * recorded when it was sent. Kept per configuration across rounds.
 */
export class AckedVersions {
  readonly byRank: Int32Array;
  constructor(n: number) {
    this.byRank = new Int32Array(n);
  }
}

/** A placeOrder the load generator saw acknowledged. */
export interface AckedOrder {
  readonly id: string;
  /** Its createdAt as the response gave it (milliseconds; Postgres keeps microseconds). */
  readonly createdAtMs: number;
  /** When its request was sent and its response read, on this process' clock (performance.now()). */
  readonly sentAt: number;
  readonly ackedAt: number;
}

/** A read's verdict: `unchecked` when the account's orders are not all known (a placeOrder of it failed). */
export type ListVerdict = 'fresh' | 'missing' | 'count' | 'unchecked';

/**
 * Per account (by rank): how many orders it held when tracking began (read
 * from its database before the workload) and every order placeOrder
 * acknowledged since, in the order of acknowledgement. A read of the account's
 * first `pageSize` orders (newest first: createdAt desc, id desc), begun when
 * `before` orders had been acknowledged, is a **stale list** when
 * - its totalCount is below the count acknowledged before it began (`count`), or
 * - it misses an acknowledged order that belongs in it (`missing`): any of them
 *   when it returned fewer than `pageSize` orders, else one newer than the last
 *   order it returned.
 *
 * "Newer than the last returned" without reading createdAt in the list: an order
 * from before tracking began is older than every acknowledged one (an order's
 * createdAt is its transaction's start, and every tracked placeOrder started
 * after the baseline was read). Between two acknowledged orders, a was
 * committed before b began when a was acknowledged before b was sent, so a is
 * older; otherwise their createdAt decide, and equal milliseconds (the order
 * then depends on microseconds the API does not show) count as not stale.
 */
export class AckedOrders {
  private readonly placed: AckedOrder[][];
  private readonly byId = new Map<string, AckedOrder>();
  /** Accounts a failed placeOrder may have changed: what they hold is no longer known. */
  private readonly uncertain: Uint8Array;

  constructor(
    /** Orders per account rank when tracking began. */
    private readonly baseline: Int32Array,
    private readonly pageSize = 10,
  ) {
    this.placed = Array.from({ length: baseline.length }, () => []);
    this.uncertain = new Uint8Array(baseline.length);
  }

  /** How many orders of the account have been acknowledged: pass it to check() when the read's answer arrives. */
  acknowledged(rank: number): number {
    return (this.placed[rank] as AckedOrder[]).length;
  }

  record(rank: number, order: AckedOrder): void {
    (this.placed[rank] as AckedOrder[]).push(order);
    this.byId.set(order.id, order);
  }

  /** A placeOrder of this account failed or went unanswered: it may have committed. */
  forget(rank: number): void {
    this.uncertain[rank] = 1;
  }

  check(rank: number, before: number, totalCount: number, nodeIds: readonly string[]): ListVerdict {
    if (this.uncertain[rank] === 1) return 'unchecked';
    if (totalCount < (this.baseline[rank] as number) + before) return 'count';
    const placed = this.placed[rank] as AckedOrder[];
    const has = (id: string) => nodeIds.includes(id);
    const last = nodeIds.length < this.pageSize ? undefined : nodeIds[this.pageSize - 1];
    const lastPlaced = last === undefined ? undefined : this.byId.get(last);
    if (lastPlaced === undefined) {
      // A short page, or one ending in an order older than every acknowledged one: every acknowledged order belongs in it.
      if (before > nodeIds.length) return 'missing';
      for (let i = 0; i < before; i++) if (!has((placed[i] as AckedOrder).id)) return 'missing';
      return 'fresh';
    }
    // Newest acknowledgement first; those acknowledged before the last one was sent are older than it.
    for (let i = before - 1; i >= 0; i--) {
      const a = placed[i] as AckedOrder;
      if (a.ackedAt < lastPlaced.sentAt) break;
      if (a.createdAtMs > lastPlaced.createdAtMs && !has(a.id)) return 'missing';
    }
    return 'fresh';
  }
}
