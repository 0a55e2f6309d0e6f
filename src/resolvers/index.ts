import type { MutationResolvers } from '../__generated__/resolvers-types.js';
import { ENTITIES, LISTS } from '../entities/index.js';
import { SCALARS } from './scalars.js';
import { entityResolvers, type ResolverMap } from './entities.js';
import { Mutation } from './Mutation.js';

/** Hand-written field resolvers, by type: the mutations. Everything per entity is derived (entities.ts). */
const handWritten: { readonly Mutation: MutationResolvers } = { Mutation };

/** Every resolver of the subgraph: derived from the entity definitions, plus the mutations and the scalars (scalars.ts). */
export function allResolvers(): ResolverMap & typeof SCALARS {
  const merged: ResolverMap = entityResolvers(ENTITIES, LISTS);
  for (const [type, fields] of Object.entries(handWritten as unknown as ResolverMap)) {
    const into = (merged[type] ??= {});
    for (const [field, resolver] of Object.entries(fields)) {
      if (field in into) throw new Error(`${type}.${field} is resolved both by an entity definition and by hand`);
      into[field] = resolver;
    }
  }
  return Object.assign(merged, SCALARS);
}
