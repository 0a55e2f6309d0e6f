import type { Knex } from 'knex';
import type { ChangeScope } from './change-scope.js';
import { rowsOf, toInt, toIso } from './rows.js';

/** The entity's name in cache keys and in the schema. */
export const ACCOUNT = 'Account';

/** An account as stored, and as cached. */
export interface AccountRow {
  readonly id: string;
  readonly owner: string;
  readonly balanceCents: number;
  readonly version: number;
  /** ISO-8601. */
  readonly updatedAt: string;
}

const COLUMNS = `id, owner, balance_cents, version, updated_at`;

function toRow(r: Record<string, unknown>): AccountRow {
  return {
    id: String(r['id']),
    owner: String(r['owner']),
    balanceCents: toInt(r['balance_cents']),
    version: toInt(r['version']),
    updatedAt: toIso(r['updated_at']),
  };
}

/** All SQL about accounts. Every change bumps `version` by exactly 1 and returns the new row. */
export class AccountsRepository {
  constructor(private readonly knex: Knex) {}

  /** `db` may be a transaction, to read inside it. */
  async findByIds(ids: readonly string[], db: Knex | Knex.Transaction = this.knex): Promise<AccountRow[]> {
    if (ids.length === 0) return [];
    const result = await db.raw(`select ${COLUMNS} from accounts where id = any(?::uuid[])`, [[...ids]]);
    return rowsOf(result).map(toRow);
  }

  async insert(scope: ChangeScope, row: { id: string; owner: string; balanceCents: number }): Promise<AccountRow> {
    const rows = await scope.change(
      ACCOUNT,
      this.knex.raw(
        `insert into accounts (id, owner, balance_cents, version, updated_at)
         values (?, ?, ?, 1, now()) returning ${COLUMNS}`,
        [row.id, row.owner, row.balanceCents],
      ),
    );
    return toRow(rows[0] as Record<string, unknown>);
  }

  /** Locks both rows in id order, so opposite transfers between two accounts cannot deadlock. */
  async lockPair(scope: ChangeScope, a: string, b: string): Promise<AccountRow[]> {
    const result = await scope.trx.raw(
      `select ${COLUMNS} from accounts where id in (?, ?) order by id for update`,
      [a, b],
    );
    return rowsOf(result).map(toRow);
  }

  /** Applies both balance changes to locked rows in one statement. */
  async addBalances(scope: ChangeScope, changes: readonly { id: string; deltaCents: number }[]): Promise<AccountRow[]> {
    const rows = await scope.change(
      ACCOUNT,
      this.knex.raw(
        `update accounts a set balance_cents = a.balance_cents + c.delta, version = a.version + 1, updated_at = now()
         from unnest(?::uuid[], ?::int[]) as c(id, delta)
         where a.id = c.id
         returning a.id, a.owner, a.balance_cents, a.version, a.updated_at`,
        [changes.map((c) => c.id), changes.map((c) => c.deltaCents)],
      ),
    );
    return rows.map(toRow);
  }
}
