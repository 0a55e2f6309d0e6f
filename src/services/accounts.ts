import { addDeltas, insertRow } from '../db/entity-sql.js';
import { account, type AccountRow } from '../entities/account.js';
import { badInput, insufficientFunds, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { requireId, requireNonNegative, requireOwner, requirePositive } from '../validation.js';
import type { Writes } from './write-through.js';

/** The account write path; see products.ts for the order of steps. */

/** What `transfer` returns: both accounts at their committed versions. */
export interface TransferResult {
  readonly from: AccountRow;
  readonly to: AccountRow;
  readonly amountCents: number;
}

export function createAccount(writes: Writes, owner: string, balanceCents: number): Promise<AccountRow> {
  const values = { id: newId(), owner: requireOwner(owner), balanceCents: requireNonNegative(balanceCents, 'balanceCents') };
  return writes.commitStatement((scope) => insertRow(scope, account, values));
}

/** Moves money between two accounts in one transaction; both envelopes go to the cache together. */
export function transfer(writes: Writes, rawFrom: string, rawTo: string, amountCents: number): Promise<TransferResult> {
  const fromId = requireId(rawFrom, 'fromId');
  const toId = requireId(rawTo, 'toId');
  requirePositive(amountCents, 'amountCents');
  if (fromId === toId) throw badInput('fromId and toId must name different accounts', 'toId');
  return writes.commit(async (scope) => {
    const locked = new Map((await scope.lock(account, [fromId, toId])).map((r) => [r.id, r]));
    const from = locked.get(fromId);
    if (!from) throw notFound('Account', fromId);
    if (!locked.has(toId)) throw notFound('Account', toId);
    if (from.balanceCents < amountCents) throw insufficientFunds(fromId, from.balanceCents, amountCents);
    const rows = await addDeltas(
      scope,
      account,
      'balanceCents',
      [
        { id: fromId, delta: -amountCents },
        { id: toId, delta: amountCents },
      ],
      { touch: 'updatedAt' },
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return { from: byId.get(fromId) as AccountRow, to: byId.get(toId) as AccountRow, amountCents };
  });
}
