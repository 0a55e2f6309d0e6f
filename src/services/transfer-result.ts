import type { AccountRow } from '../db/accounts-repository.js';

/** What `transfer` returns: both accounts at their committed versions. */
export interface TransferResult {
  readonly from: AccountRow;
  readonly to: AccountRow;
  readonly amountCents: number;
}
