/**
 * The peer a team would write without freshgraph: a Federation 2 subgraph on
 * Apollo Server 5 as its getting-started guide builds it (`startStandaloneServer`,
 * `buildSubgraphSchema`), resolvers on knex/pg, and one DataLoader per request for
 * products by id, as Apollo advises for `__resolveReference` and lists. No cache
 * anywhere, and no freshgraph code: it is written the way the docs show.
 *
 * It serves the subset of the schema the bench sends (`product`, `products`,
 * `_entities` for Product, `adjustStock`) from its own copy of the same rows,
 * with the same response bytes as freshgraph (the bench compares them before it measures).
 *
 * Environment: DATABASE_URL, PORT, HOST, DATABASE_POOL_MAX (default 10, as freshgraph's).
 */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import DataLoader from 'dataloader';
import { GraphQLError, GraphQLScalarType } from 'graphql';
import { gql } from 'graphql-tag';
import knexPkg from 'knex';

const typeDefs = gql`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  scalar DateTime

  type Product @key(fields: "id") {
    id: ID!
    sku: String!
    name: String!
    priceCents: Int!
    stock: Int!
    version: Int!
    updatedAt: DateTime!
  }

  type Query {
    product(id: ID!): Product
    "Same order as ids; null where no product exists."
    products(ids: [ID!]!): [Product]!
  }

  type Mutation {
    adjustStock(id: ID!, delta: Int!): Product!
  }
`;

interface Product {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly stock: number;
  readonly version: number;
  readonly updatedAt: Date;
}

interface Context {
  readonly products: DataLoader<string, Product | null>;
}

const env = process.env;
const databaseUrl = env['DATABASE_URL'];
if (!databaseUrl) {
  console.error('The plain-apollo peer needs DATABASE_URL');
  process.exit(2);
}
const knex = knexPkg.knex({
  client: 'pg',
  connection: databaseUrl,
  pool: { min: 0, max: Number(env['DATABASE_POOL_MAX'] ?? 10) },
});

const PRODUCT_COLUMNS = ['id', 'sku', 'name', 'price_cents as priceCents', 'stock', 'version', 'updated_at as updatedAt'];

/** One query per tick for every product id the request asks for, answered in key order. */
function productLoader(): DataLoader<string, Product | null> {
  return new DataLoader(async (ids: readonly string[]) => {
    const rows: Product[] = await knex('products').select(PRODUCT_COLUMNS).whereIn('id', ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize: (value) => {
    if (value instanceof Date) return value.toISOString();
    throw new TypeError('DateTime cannot represent this value');
  },
  parseValue: (value) => new Date(String(value)),
});

const resolvers = {
  DateTime,
  Query: {
    product: (_: unknown, { id }: { id: string }, { products }: Context) => products.load(id),
    products: (_: unknown, { ids }: { ids: string[] }, { products }: Context) => products.loadMany(ids),
  },
  Mutation: {
    adjustStock: async (_: unknown, { id, delta }: { id: string; delta: number }): Promise<Product> => {
      const [row] = (await knex('products')
        .where('id', id)
        .andWhereRaw('stock + ? >= 0', [delta])
        .update({ stock: knex.raw('stock + ?', [delta]), version: knex.raw('version + 1'), updated_at: knex.fn.now() })
        .returning(PRODUCT_COLUMNS)) as Product[];
      if (row) return row;
      const exists = await knex('products').where('id', id).first('id');
      throw exists
        ? new GraphQLError('Not enough stock', { extensions: { code: 'INSUFFICIENT_STOCK' } })
        : new GraphQLError(`No product ${id}`, { extensions: { code: 'NOT_FOUND' } });
    },
  },
  Product: {
    __resolveReference: (reference: { id: string }, { products }: Context) => products.load(reference.id),
  },
};

// The pool closes when Apollo stops (it does on SIGTERM and SIGINT).
const closePool: ApolloServerPlugin<Context> = {
  async serverWillStart() {
    return {
      async serverWillStop() {
        await knex.destroy();
      },
    };
  },
};

const server = new ApolloServer<Context>({
  schema: buildSubgraphSchema([{ typeDefs, resolvers }]),
  plugins: [closePool],
});
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(env['PORT'] ?? 4000), host: env['HOST'] ?? '127.0.0.1' },
  context: async () => ({ products: productLoader() }),
});
console.warn(`plain-apollo peer is serving at ${url}`);
