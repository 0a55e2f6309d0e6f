import type { ProductResolvers } from '../__generated__/resolvers-types.js';
import { canonicalId } from '../ids.js';

export const Product: ProductResolvers = {
  // A router's representation names only the key; a malformed or unknown id resolves to null.
  __resolveReference: (ref, { loaders }) => {
    const id = typeof ref.id === 'string' ? canonicalId(ref.id) : undefined;
    return id === undefined ? null : loaders.products.load(id);
  },
};
