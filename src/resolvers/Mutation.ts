import type { MutationResolvers } from '../__generated__/resolvers-types.js';
import { createAccount, transfer } from '../services/accounts.js';
import { categorize, createCategory } from '../services/categories.js';
import { placeOrder } from '../services/orders.js';
import { adjustStock, adjustStocks, createProduct, deleteProduct, updateProduct } from '../services/products.js';

/** Thin: every rule lives in a service; what a service commits is primed into the request's loaders. */
export const Mutation: MutationResolvers = {
  createProduct: (_, { input }, { writes }) => createProduct(writes, input),
  updateProduct: (_, { id, patch, expectedVersion }, { writes }) => updateProduct(writes, id, patch, expectedVersion),
  adjustStock: (_, { id, delta }, { writes }) => adjustStock(writes, id, delta),
  adjustStocks: (_, { changes }, { writes }) => adjustStocks(writes, changes),
  deleteProduct: (_, { id }, { writes }) => deleteProduct(writes, id),
  createAccount: (_, { owner, balanceCents }, { writes }) => createAccount(writes, owner, balanceCents),
  transfer: (_, { fromId, toId, amountCents }, { writes }) => transfer(writes, fromId, toId, amountCents),
  placeOrder: (_, { accountId, lines }, { writes }) => placeOrder(writes, accountId, lines),
  createCategory: (_, { input }, { writes }) => createCategory(writes, input),
  categorize: (_, { productId, categoryIds }, { writes }) => categorize(writes, productId, categoryIds),
};
