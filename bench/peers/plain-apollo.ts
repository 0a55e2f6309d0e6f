/**
 * The peer a team would write without freshgraph: a Federation 2 subgraph on
 * Apollo Server 5 as its getting-started guide builds it (`startStandaloneServer`,
 * `buildSubgraphSchema`), resolvers on knex/pg, and one DataLoader per request for
 * products by id, as Apollo advises for `__resolveReference` and lists. No cache
 * anywhere, and no freshgraph code: it is written the way the docs show.
 *
 * It serves the subset of the schema the bench sends (`product`, `products`,
 * `_entities` for Product, `adjustStock`, `createProduct`, `categorize`; `account` with `Account.orders` as a
 * Relay-style connection with keyset pagination, `placeOrder`) from its own copy
 * of the same rows, with the same response bytes as freshgraph (the bench
 * compares them before it measures; cursors are opaque and its own).
 *
 * Environment: DATABASE_URL, PORT, HOST, DATABASE_POOL_MAX (default 10, as freshgraph's).
 */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import { GraphQLError, GraphQLScalarType } from 'graphql';
import { gql } from 'graphql-tag';
import knexPkg, { type Knex } from 'knex';
import pg from 'pg';

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

  type Account @key(fields: "id") {
    id: ID!
    owner: String!
    balanceCents: Int!
    version: Int!
    updatedAt: DateTime!
    "Newest first. first: 0 to 100."
    orders(first: Int = 20, after: String): OrderConnection!
  }

  type Order @key(fields: "id") {
    id: ID!
    accountId: ID!
    lines: [OrderLine!]!
    totalCents: Int!
    version: Int!
    createdAt: DateTime!
  }

  type OrderLine {
    productId: ID!
    quantity: Int!
    unitPriceCents: Int!
  }

  type PageInfo {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
    endCursor: String
  }

  type OrderConnection {
    edges: [OrderEdge!]!
    nodes: [Order!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type OrderEdge {
    cursor: String!
    node: Order!
  }

  input NewProduct {
    sku: String!
    name: String!
    priceCents: Int!
    stock: Int!
  }

  input OrderLineInput {
    productId: ID!
    quantity: Int!
  }

  type Query {
    product(id: ID!): Product
    "Same order as ids; null where no product exists."
    products(ids: [ID!]!): [Product]!
    account(id: ID!): Account
  }

  type Mutation {
    adjustStock(id: ID!, delta: Int!): Product!
    placeOrder(accountId: ID!, lines: [OrderLineInput!]!): Order!
    createProduct(input: NewProduct!): Product!
    "Replaces the product's categories with categoryIds."
    categorize(productId: ID!, categoryIds: [ID!]!): Product!
  }
`;

interface Product {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly stock: number;
  readonly version: number;
  readonly updatedAt: string;
}

interface Account {
  readonly id: string;
  readonly owner: string;
  readonly balanceCents: number;
  readonly version: number;
  readonly updatedAt: string;
}

interface OrderLine {
  readonly productId: string;
  readonly quantity: number;
  readonly unitPriceCents: number;
}

interface Order {
  readonly id: string;
  readonly accountId: string;
  readonly lines: OrderLine[];
  readonly totalCents: number;
  readonly version: number;
  readonly createdAt: string;
}

/** A page asked for: `after` is the id of the order it starts after; `limit` is one more than `first`, to know whether more follow. */
interface PageKey {
  readonly accountId: string;
  readonly after: string | null;
  readonly limit: number;
}

interface Context {
  readonly products: DataLoader<string, Product | null>;
  readonly accounts: DataLoader<string, Account | null>;
  readonly orderPages: DataLoader<PageKey, Order[], string>;
  readonly orderCounts: DataLoader<string, number>;
}

const env = process.env;
const databaseUrl = env['DATABASE_URL'];
if (!databaseUrl) {
  console.error('The plain-apollo peer needs DATABASE_URL');
  process.exit(2);
}
/**
 * A timestamptz as ISO-8601 UTC to the microsecond Postgres keeps (at least milliseconds), from the text
 * Postgres writes in a UTC session: what freshgraph serves, so the two answer the same bytes.
 */
function isoMicros(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d+))?\+00$/.exec(text);
  if (m === null) return new Date(text).toISOString();
  const digits = (m[3] ?? '').padEnd(3, '0');
  return `${m[1]}T${m[2]}.${digits.length > 3 ? digits.replace(/0+$/, '').padEnd(3, '0') : digits}Z`;
}
const TIMESTAMPTZ = 1184;
const knex = knexPkg.knex({
  client: 'pg',
  connection: {
    connectionString: databaseUrl,
    options: '-c TimeZone=UTC',
    types: { getTypeParser: (oid: number, format: string) => (oid === TIMESTAMPTZ ? isoMicros : pg.types.getTypeParser(oid, format as 'text')) },
  },
  pool: { min: 0, max: Number(env['DATABASE_POOL_MAX'] ?? 10) },
});

const PRODUCT_COLUMNS = ['id', 'sku', 'name', 'price_cents as priceCents', 'stock', 'version', 'updated_at as updatedAt'];

const ACCOUNT_COLUMNS = ['id', 'owner', 'balance_cents as balanceCents', 'version', 'updated_at as updatedAt'];
const ORDER_COLUMNS = ['id', 'account_id as accountId', 'lines', 'total_cents as totalCents', 'version', 'created_at as createdAt'];

/** One query per tick for every product id the request asks for, answered in key order. */
function productLoader(): DataLoader<string, Product | null> {
  return new DataLoader(async (ids: readonly string[]) => {
    const rows: Product[] = await knex('products').select(PRODUCT_COLUMNS).whereIn('id', ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

function accountLoader(): DataLoader<string, Account | null> {
  return new DataLoader(async (ids: readonly string[]) => {
    const rows: Account[] = await knex('accounts').select(ACCOUNT_COLUMNS).whereIn('id', ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/**
 * Keyset pages of accounts' orders, newest first (created_at desc, id desc: the
 * index orders_account_newest), every page of a tick in one query: a lateral
 * join per page asked for. A page after a cursor starts after that order's
 * (created_at, id).
 */
function orderPageLoader(): DataLoader<PageKey, Order[], string> {
  return new DataLoader(
    async (keys: readonly PageKey[]) => {
      const { rows } = await knex.raw<{ rows: (Order & { n: number })[] }>(
        `select k.n, o.id, o.account_id as "accountId", o.lines, o.total_cents as "totalCents", o.version, o.created_at as "createdAt"
         from unnest(?::int[], ?::uuid[], ?::uuid[], ?::int[]) as k(n, account_id, after_id, lim)
         cross join lateral (
           select * from orders o
           where o.account_id = k.account_id
             and (k.after_id is null or (o.created_at, o.id) < (select c.created_at, c.id from orders c where c.id = k.after_id))
           order by o.created_at desc, o.id desc
           limit k.lim) o
         order by k.n, o.created_at desc, o.id desc`,
        // An array holding NULLs binds as an array; knex's Value type does not say so.
        [keys.map((_, i) => i), keys.map((k) => k.accountId), keys.map((k) => k.after), keys.map((k) => k.limit)] as Knex.Value[],
      );
      const pages: Order[][] = keys.map(() => []);
      for (const { n, ...order } of rows) pages[n]?.push(order);
      return pages;
    },
    { cacheKeyFn: (key) => `${key.accountId}/${key.after ?? ''}/${key.limit}` },
  );
}

/** How many orders each account has, for totalCount (only counted when a query asks for it). */
function orderCountLoader(): DataLoader<string, number> {
  return new DataLoader(async (ids: readonly string[]) => {
    const rows: { accountId: string; count: string }[] = await knex('orders')
      .select('account_id as accountId')
      .count({ count: '*' })
      .whereIn('account_id', ids)
      .groupBy('account_id');
    const byId = new Map(rows.map((row) => [row.accountId, Number(row.count)]));
    return ids.map((id) => byId.get(id) ?? 0);
  });
}

const badInput = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Cursors are opaque to clients: base64url of the order's id. */
const encodeCursor = (id: string) => Buffer.from(id).toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!UUID.test(id)) throw badInput('after is not a cursor of this list');
  return id;
}

const DateTime = new GraphQLScalarType<string, string>({
  name: 'DateTime',
  serialize: (value) => {
    if (typeof value === 'string') return value;
    if (value instanceof Date) return value.toISOString();
    throw new TypeError('DateTime cannot represent this value');
  },
  parseValue: (value) => String(value),
});

const resolvers = {
  DateTime,
  Query: {
    product: (_: unknown, { id }: { id: string }, { products }: Context) => products.load(id),
    products: (_: unknown, { ids }: { ids: string[] }, { products }: Context) => products.loadMany(ids),
    account: (_: unknown, { id }: { id: string }, { accounts }: Context) => accounts.load(id),
  },
  Account: {
    __resolveReference: (reference: { id: string }, { accounts }: Context) => accounts.load(reference.id),
    orders: async (account: Account, args: { first?: number | null; after?: string | null }, { orderPages }: Context) => {
      const first = args.first ?? 20;
      if (!Number.isInteger(first) || first < 0 || first > 100) throw badInput('first must be between 0 and 100');
      const after = args.after == null ? null : decodeCursor(args.after);
      const rows = await orderPages.load({ accountId: account.id, after, limit: first + 1 });
      const page = rows.slice(0, first);
      const edges = page.map((node) => ({ cursor: encodeCursor(node.id), node }));
      return {
        accountId: account.id,
        edges,
        nodes: page,
        pageInfo: {
          hasNextPage: rows.length > first,
          hasPreviousPage: after !== null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  },
  OrderConnection: {
    totalCount: (connection: { accountId: string }, _: unknown, { orderCounts }: Context) => orderCounts.load(connection.accountId),
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
    createProduct: async (_: unknown, { input }: { input: { sku: string; name: string; priceCents: number; stock: number } }): Promise<Product> => {
      try {
        const [row] = (await knex('products')
          .insert({ id: randomUUID(), sku: input.sku, name: input.name, price_cents: input.priceCents, stock: input.stock })
          .returning(PRODUCT_COLUMNS)) as Product[];
        return row as Product;
      } catch (err) {
        if ((err as { code?: unknown }).code === '23505') throw new GraphQLError(`sku ${input.sku} is taken`, { extensions: { code: 'ALREADY_EXISTS' } });
        throw err;
      }
    },
    /**
     * One transaction: lock the product, make sure the categories exist (and stay,
     * for share), remove the join rows it no longer has and add the new ones.
     */
    categorize: async (_: unknown, { productId, categoryIds }: { productId: string; categoryIds: string[] }): Promise<Product> => {
      if (categoryIds.length > 50) throw badInput('at most 50 categories');
      if (new Set(categoryIds).size !== categoryIds.length) throw badInput('each category at most once');
      return knex.transaction(async (trx) => {
        const product = (await trx('products').select(PRODUCT_COLUMNS).where('id', productId).forUpdate().first()) as Product | undefined;
        if (!product) throw new GraphQLError(`No product ${productId}`, { extensions: { code: 'NOT_FOUND' } });
        const found: { id: string }[] = await trx('categories').select('id').whereIn('id', categoryIds).orderBy('id').forShare();
        if (found.length !== categoryIds.length) throw new GraphQLError('No such category', { extensions: { code: 'NOT_FOUND' } });
        await trx('product_categories').where('product_id', productId).whereNotIn('category_id', categoryIds).delete();
        await trx.raw(`insert into product_categories (product_id, category_id) select ?, c from unnest(?::uuid[]) as c on conflict do nothing`, [productId, categoryIds]);
        return product;
      });
    },
    /**
     * One transaction: lock the products (in id order) and the account, take the
     * stock, debit the account by the total at the current prices, insert the order.
     */
    placeOrder: async (_: unknown, { accountId, lines }: { accountId: string; lines: { productId: string; quantity: number }[] }): Promise<Order> => {
      if (lines.length === 0 || lines.length > 100) throw badInput('an order has 1 to 100 lines');
      if (new Set(lines.map((l) => l.productId)).size !== lines.length) throw badInput('each product at most once');
      if (lines.some((l) => !Number.isInteger(l.quantity) || l.quantity < 1)) throw badInput('quantity must be at least 1');
      return knex.transaction(async (trx) => {
        const products: { id: string; priceCents: number; stock: number }[] = await trx('products')
          .select('id', 'price_cents as priceCents', 'stock')
          .whereIn('id', lines.map((l) => l.productId))
          .orderBy('id')
          .forUpdate();
        const account: { balanceCents: number } | undefined = await trx('accounts').select('balance_cents as balanceCents').where('id', accountId).forUpdate().first();
        if (!account) throw new GraphQLError(`No account ${accountId}`, { extensions: { code: 'NOT_FOUND' } });
        const byId = new Map(products.map((p) => [p.id, p]));
        let totalCents = 0;
        const orderLines: OrderLine[] = lines.map((line) => {
          const product = byId.get(line.productId);
          if (!product) throw new GraphQLError(`No product ${line.productId}`, { extensions: { code: 'NOT_FOUND' } });
          if (product.stock < line.quantity) throw new GraphQLError('Not enough stock', { extensions: { code: 'INSUFFICIENT_STOCK' } });
          totalCents += product.priceCents * line.quantity;
          return { productId: product.id, quantity: line.quantity, unitPriceCents: product.priceCents };
        });
        if (account.balanceCents < totalCents) throw new GraphQLError('Not enough money', { extensions: { code: 'INSUFFICIENT_FUNDS' } });
        await trx.raw(
          `update products p set stock = p.stock - l.quantity, version = p.version + 1, updated_at = now()
           from unnest(?::uuid[], ?::int[]) as l(id, quantity) where p.id = l.id`,
          [orderLines.map((l) => l.productId), orderLines.map((l) => l.quantity)],
        );
        await trx('accounts')
          .where('id', accountId)
          .update({ balance_cents: trx.raw('balance_cents - ?', [totalCents]), version: trx.raw('version + 1'), updated_at: trx.fn.now() });
        const [order] = (await trx('orders')
          .insert({ id: randomUUID(), account_id: accountId, lines: JSON.stringify(orderLines), total_cents: totalCents })
          .returning(ORDER_COLUMNS)) as Order[];
        return order as Order;
      });
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
  context: async () => ({ products: productLoader(), accounts: accountLoader(), orderPages: orderPageLoader(), orderCounts: orderCountLoader() }),
});
console.warn(`plain-apollo peer is serving at ${url}`);
