import type { Resolvers } from '../__generated__/resolvers-types.js';
import { Account } from './Account.js';
import { DateTime } from './DateTime.js';
import { Mutation } from './Mutation.js';
import { Product } from './Product.js';
import { Query } from './Query.js';

export const resolvers: Resolvers = { Query, Mutation, Product, Account, DateTime };
