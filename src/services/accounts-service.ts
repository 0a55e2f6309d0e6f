import { ACCOUNT, type AccountRow, type AccountsRepository } from '../db/accounts-repository.js';
import { badInput, insufficientFunds, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { TransferResult } from './transfer-result.js';
import { requireId, requireNonNegative, requireOwner, requirePositive } from './validation.js';
import type { Committed, EntityChange, WriteThrough } from './write-through.js';

const changed = (row: AccountRow): EntityChange<AccountRow> => ({ type: ACCOUNT, id: row.id, version: row.version, data: row });

/** The account write path; see ProductsService for the order of steps. */
export class AccountsService {
  constructor(
    private readonly repo: AccountsRepository,
    private readonly writes: WriteThrough,
  ) {}

  async create(owner: string, balanceCents: number): Promise<AccountRow> {
    const row = {
      id: newId(),
      owner: requireOwner(owner),
      balanceCents: requireNonNegative(balanceCents, 'balanceCents'),
    };
    return this.writes.commit(async (scope): Promise<Committed<AccountRow>> => {
      const created = await this.repo.insert(scope, row);
      return { result: created, changes: [changed(created)] };
    });
  }

  /** Moves money between two accounts in one transaction; both envelopes go to the cache together. */
  async transfer(rawFrom: string, rawTo: string, amountCents: number): Promise<TransferResult> {
    const fromId = requireId(rawFrom, 'fromId');
    const toId = requireId(rawTo, 'toId');
    requirePositive(amountCents, 'amountCents');
    if (fromId === toId) throw badInput('fromId and toId must name different accounts', 'toId');
    return this.writes.commit(async (scope): Promise<Committed<TransferResult>> => {
      const locked = new Map((await this.repo.lockPair(scope, fromId, toId)).map((r) => [r.id, r]));
      const from = locked.get(fromId);
      if (!from) throw notFound(ACCOUNT, fromId);
      if (!locked.has(toId)) throw notFound(ACCOUNT, toId);
      if (from.balanceCents < amountCents) throw insufficientFunds(fromId, from.balanceCents, amountCents);
      const rows = await this.repo.addBalances(scope, [
        { id: fromId, deltaCents: -amountCents },
        { id: toId, deltaCents: amountCents },
      ]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return {
        result: { from: byId.get(fromId) as AccountRow, to: byId.get(toId) as AccountRow, amountCents },
        changes: rows.map(changed),
      };
    });
  }
}
