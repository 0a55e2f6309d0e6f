import type { MutationResolvers } from '../__generated__/resolvers-types.js';

export const Mutation: MutationResolvers = {
  createProduct: async (_, { input }, { products, loaders }) => {
    const row = await products.create(input);
    loaders.primeProduct(row);
    return row;
  },
  updateProduct: async (_, { id, patch, expectedVersion }, { products, loaders }) => {
    const row = await products.update(id, patch, expectedVersion);
    loaders.primeProduct(row);
    return row;
  },
  adjustStock: async (_, { id, delta }, { products, loaders }) => {
    const row = await products.adjustStock(id, delta);
    loaders.primeProduct(row);
    return row;
  },
  adjustStocks: async (_, { changes }, { products, loaders }) => {
    const rows = await products.adjustStocks(changes);
    for (const row of rows) loaders.primeProduct(row);
    return rows;
  },
  deleteProduct: async (_, { id }, { products, loaders }) => {
    const deleted = await products.delete(id);
    if (deleted) loaders.primeDeletedProduct(id.toLowerCase());
    return deleted;
  },
  createAccount: async (_, { owner, balanceCents }, { accounts, loaders }) => {
    const row = await accounts.create(owner, balanceCents);
    loaders.primeAccount(row);
    return row;
  },
  transfer: async (_, { fromId, toId, amountCents }, { accounts, loaders }) => {
    const result = await accounts.transfer(fromId, toId, amountCents);
    loaders.primeAccount(result.from);
    loaders.primeAccount(result.to);
    return result;
  },
};
