import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import type { EntityCache } from '../cache/entity-cache.js';
import { ACCOUNT, type AccountRow, type AccountsRepository } from '../db/accounts-repository.js';
import { inTransaction } from '../db/transaction.js';
import { badInput, insufficientFunds, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { toClientError } from './db-failures.js';
import type { TransferResult } from './transfer-result.js';
import { requireId, requireNonNegative, requireOwner, requirePositive } from './validation.js';

/** The account write path; see ProductsService for the order of steps. */
export class AccountsService {
  constructor(
    private readonly knex: Knex,
    private readonly repo: AccountsRepository,
    private readonly cache: EntityCache,
  ) {}

  entityKey(id: string): string {
    return this.cache.keys.entity(ACCOUNT, id);
  }

  async create(owner: string, balanceCents: number): Promise<AccountRow> {
    const row = {
      id: newId(),
      owner: requireOwner(owner),
      balanceCents: requireNonNegative(balanceCents, 'balanceCents'),
    };
    const started = performance.now();
    const created = await this.transact((trx) => this.repo.insert(trx, row));
    await this.writeThrough([created], started);
    return created;
  }

  /** Moves money between two accounts in one transaction; both envelopes go to the cache together. */
  async transfer(rawFrom: string, rawTo: string, amountCents: number): Promise<TransferResult> {
    const fromId = requireId(rawFrom, 'fromId');
    const toId = requireId(rawTo, 'toId');
    requirePositive(amountCents, 'amountCents');
    if (fromId === toId) throw badInput('fromId and toId must name different accounts', 'toId');
    const started = performance.now();
    const rows = await this.transact(async (trx) => {
      const locked = new Map((await this.repo.lockPair(trx, fromId, toId)).map((r) => [r.id, r]));
      const from = locked.get(fromId);
      if (!from) throw notFound(ACCOUNT, fromId);
      if (!locked.has(toId)) throw notFound(ACCOUNT, toId);
      if (from.balanceCents < amountCents) throw insufficientFunds(fromId, from.balanceCents, amountCents);
      return this.repo.addBalances(trx, [
        { id: fromId, deltaCents: -amountCents },
        { id: toId, deltaCents: amountCents },
      ]);
    });
    await this.writeThrough(rows, started);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return { from: byId.get(fromId) as AccountRow, to: byId.get(toId) as AccountRow, amountCents };
  }

  private async transact<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    try {
      return await inTransaction(this.knex, work);
    } catch (err) {
      throw toClientError(err);
    }
  }

  private async writeThrough(rows: readonly AccountRow[], startedMs: number): Promise<void> {
    await this.cache.writeThrough(
      rows.map((row) => ({ key: this.entityKey(row.id), version: row.version, data: row })),
      [],
      performance.now() - startedMs,
    );
  }
}
