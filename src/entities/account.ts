import { defineEntity, desc, hasMany, int, text, timestamp, uuid, type RowOf } from './define.js';

/** A money account; orders and transfers debit it. */
export const account = defineEntity({
  type: 'Account',
  table: 'accounts',
  columns: {
    id: uuid(),
    owner: text(),
    balanceCents: int(),
    version: int(),
    updatedAt: timestamp(),
  },
  roots: { one: 'account', many: 'accounts' },
  lists: {
    orders: hasMany('Order', { by: 'accountId', order: [desc('createdAt')] }),
  },
});

export type AccountRow = RowOf<typeof account>;
