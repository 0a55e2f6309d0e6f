import type { QueryResolvers } from '../__generated__/resolvers-types.js';
import { requireId, requireIds, requireSku } from '../services/validation.js';
import { throwIfAnyFailed } from './load-all.js';

export const Query: QueryResolvers = {
  product: (_, { id }, { loaders }) => loaders.products.load(requireId(id)),
  productBySku: (_, { sku }, { loaders }) => loaders.productBySku(requireSku(sku)),
  products: async (_, { ids }, { loaders }) => throwIfAnyFailed(await loaders.products.loadMany(requireIds(ids))),
  account: (_, { id }, { loaders }) => loaders.accounts.load(requireId(id)),
  accounts: async (_, { ids }, { loaders }) => throwIfAnyFailed(await loaders.accounts.loadMany(requireIds(ids))),
};
