import { account, type AccountRow } from '../entities/account.js';
import type { ChangeScope } from './change-scope.js';
import { columnList } from './entity-sql.js';

/** The account statements behind transfers and orders; reads by id are generic. */

/** Applies each balance change to its (locked) row, all in one statement. */
export function addBalances(scope: ChangeScope, changes: readonly { readonly id: string; readonly deltaCents: number }[]): Promise<AccountRow[]> {
  return scope.change(
    account,
    'update',
    scope.trx.raw(
      `update accounts a set balance_cents = a.balance_cents + c.delta, version = a.version + 1, updated_at = now()
       from unnest(?::uuid[], ?::int[]) as c(id, delta)
       where a.id = c.id
       returning ${columnList(account, 'a')}`,
      [changes.map((c) => c.id), changes.map((c) => c.deltaCents)],
    ),
  );
}
