import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RedisStore } from '../../src/cache/redis-store.js';
import { newId } from '../../src/ids.js';
import { readSchemaSdl } from '../../src/schema-sdl.js';
import { codesOf, dataOf, postGraphql, startTestApp, type TestApp, QUIET_BACKGROUND } from '../helpers/app.js';
import { countRedisRoundTrips, countSql } from '../helpers/counting.js';
import { insertProducts } from '../helpers/products.js';

/**
 * A second subgraph, as another team would write it: it extends freshgraph's Product
 * with `reviews` and answers `topProducts` with products by reference (their key only).
 */
const REVIEWS_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
  type Review { id: ID! rating: Int! body: String! product: Product! }
  type Product @key(fields: "id") { id: ID! reviews: [Review!]! }
  type Query {
    topProducts(first: Int! = 100): [Product]!
    topReviews(first: Int! = 10): [Review!]!
  }
`;

interface Review {
  id: string;
  rating: number;
  body: string;
  productId: string;
}

/** What the gateway sent to one subgraph. */
interface SubgraphCall {
  readonly service: string;
  readonly query: string;
  readonly variables: Record<string, unknown>;
}

let app: TestApp;
let ids: string[];
let topProductIds: string[];
let reviews: Review[];
let reviewsServer: ApolloServer;
let gatewayServer: ApolloServer;
let gatewayUrl: string;
const calls: SubgraphCall[] = [];
let redisTrips: ReturnType<typeof countRedisRoundTrips>;
let sql: ReturnType<typeof countSql>;

const viaGateway = <T>(query: string, variables?: Record<string, unknown>) => postGraphql<T>(gatewayUrl, query, variables);
const freshgraphCalls = () => calls.filter((c) => c.service === 'freshgraph');
const representationsOf = (call: SubgraphCall | undefined) => call?.variables['representations'] as { __typename: string; id: string }[];

beforeAll(async () => {
  app = await startTestApp(QUIET_BACKGROUND);
  ids = await insertProducts(app.running.deps.db.knex, 100);
  topProductIds = ids;
  reviews = ids.flatMap((productId, i) => [
    { id: `r${i}a`, rating: 1 + (i % 5), body: `Solid product ${i}`, productId },
    { id: `r${i}b`, rating: 5, body: `Would buy ${i} again`, productId },
  ]);

  reviewsServer = new ApolloServer({
    plugins: [ApolloServerPluginInlineTraceDisabled()],
    schema: buildSubgraphSchema({
      typeDefs: parse(REVIEWS_SDL),
      resolvers: {
        Query: {
          topProducts: (_: unknown, { first }: { first: number }) => topProductIds.slice(0, first).map((id) => ({ id })),
          topReviews: (_: unknown, { first }: { first: number }) => reviews.slice(0, first),
        },
        Product: {
          reviews: (product: { id: string }) => reviews.filter((r) => r.productId === product.id),
        },
        Review: {
          product: (review: Review) => ({ id: review.productId }),
        },
      },
    }),
  });
  const reviewsUrl = (await startStandaloneServer(reviewsServer, { listen: { port: 0, host: '127.0.0.1' } })).url;

  const composed = composeServices([
    { name: 'freshgraph', url: app.url, typeDefs: parse(readSchemaSdl()) },
    { name: 'reviews', url: reviewsUrl, typeDefs: parse(REVIEWS_SDL) },
  ]);
  if (!composed.supergraphSdl) throw new Error(`composition failed: ${composed.errors?.map((e) => e.message).join('\n')}`);

  const gateway = new ApolloGateway({
    supergraphSdl: composed.supergraphSdl,
    buildService: ({ name, url }) =>
      new (class extends RemoteGraphQLDataSource {
        override willSendRequest({ request }: GraphQLDataSourceProcessOptions) {
          calls.push({ service: name, query: request.query ?? '', variables: { ...request.variables } });
        }
      })({ url }),
  });
  gatewayServer = new ApolloServer({ gateway });
  gatewayUrl = (await startStandaloneServer(gatewayServer, { listen: { port: 0, host: '127.0.0.1' } })).url;

  redisTrips = countRedisRoundTrips((app.running.deps.store as RedisStore).client);
  sql = countSql(app.running.deps.db.knex);
});

afterAll(async () => {
  redisTrips?.stop();
  sql?.stop();
  await gatewayServer?.stop();
  await reviewsServer?.stop();
  await app?.close();
});

beforeEach(async () => {
  await app.running.deps.cache.idle();
  calls.length = 0;
  redisTrips.reset();
  sql.reset();
  topProductIds = ids;
});

const TOP_PRODUCTS = `{ topProducts(first: 100) { id name priceCents version reviews { rating body } } }`;
type TopProducts = { topProducts: { id: string; name: string; priceCents: number; version: number; reviews: { rating: number; body: string }[] }[] };

describe('behind a gateway', () => {
  it('resolves 100 products from both subgraphs with one _entities call: at most 1 SELECT cold, 1 Redis round trip warm', async () => {
    await app.redis.del(...ids.map((id) => `${app.prefix}:{Product:${id}}`));
    const cold = dataOf(await viaGateway<TopProducts>(TOP_PRODUCTS)).topProducts;
    expect(cold.map((p) => p.id)).toEqual(ids);
    cold.forEach((p, i) => {
      expect(p).toMatchObject({ name: `Bulk product ${i}`, priceCents: 100 + i, version: 1 });
      expect(p.reviews).toEqual([
        { rating: 1 + (i % 5), body: `Solid product ${i}` },
        { rating: 5, body: `Would buy ${i} again` },
      ]);
    });
    const coldCalls = freshgraphCalls();
    expect(coldCalls).toHaveLength(1);
    expect(coldCalls[0]?.query).toMatch(/_entities\(representations:\s*\$representations\)/);
    expect(representationsOf(coldCalls[0])).toEqual(ids.map((id) => ({ __typename: 'Product', id })));
    await app.running.deps.cache.idle();
    expect(sql.count).toBeLessThanOrEqual(1);
    expect(sql.statements[0]).toMatch(/^select .* from "products" where "id" = any/);

    await app.running.deps.cache.idle();
    calls.length = 0;
    redisTrips.reset();
    sql.reset();
    const warm = dataOf(await viaGateway<TopProducts>(TOP_PRODUCTS)).topProducts;
    expect(warm).toEqual(cold);
    expect(freshgraphCalls()).toHaveLength(1);
    expect(representationsOf(freshgraphCalls()[0])).toHaveLength(100);
    await app.running.deps.cache.idle();
    expect(redisTrips.count).toBe(1);
    expect(sql.count).toBe(0);
  });

  it('follows references from the other subgraph and answers null for a product that does not exist', async () => {
    const gone = newId();
    topProductIds = [ids[3] as string, gone, ids[7] as string];
    const res = dataOf(await viaGateway<{ topProducts: ({ id: string; name: string } | null)[]; topReviews: { body: string; product: { name: string } }[] }>(
      `{ topProducts(first: 3) { id name } topReviews(first: 2) { body product { name } } }`,
    ));
    expect(res.topProducts).toEqual([{ id: ids[3], name: 'Bulk product 3' }, null, { id: ids[7], name: 'Bulk product 7' }]);
    expect(res.topReviews).toEqual([
      { body: 'Solid product 0', product: { name: 'Bulk product 0' } },
      { body: 'Would buy 0 again', product: { name: 'Bulk product 0' } },
    ]);
  });

  it('shows the new version at once after a mutation through the gateway', async () => {
    const [id] = ids as [string];
    const before = dataOf(await viaGateway<TopProducts>(TOP_PRODUCTS)).topProducts[0];
    expect(before?.id).toBe(id);
    const updated = dataOf(
      await viaGateway<{ updateProduct: { version: number; name: string; reviews: unknown[] } }>(
        `mutation($id: ID!) { updateProduct(id: $id, patch: { name: "Renamed through the gateway" }) { version name reviews { rating } } }`,
        { id },
      ),
    ).updateProduct;
    expect(updated).toMatchObject({ version: (before?.version ?? 0) + 1, name: 'Renamed through the gateway' });
    expect(updated.reviews).toHaveLength(2);

    const after = dataOf(await viaGateway<TopProducts>(TOP_PRODUCTS)).topProducts[0];
    expect(after).toMatchObject({ id, version: updated.version, name: 'Renamed through the gateway' });

    const stocked = dataOf(await viaGateway<{ adjustStock: { version: number } }>(`mutation($id: ID!) { adjustStock(id: $id, delta: 2) { version } }`, { id }))
      .adjustStock;
    expect(stocked.version).toBe(updated.version + 1);
    expect(dataOf(await viaGateway<TopProducts>(TOP_PRODUCTS)).topProducts[0]?.version).toBe(stocked.version);
  });

  it("passes freshgraph's BAD_USER_INPUT through to the gateway's client when a fetch names more than 500 products", async () => {
    topProductIds = [...ids, ...Array.from({ length: 401 }, () => newId())];
    const res = await viaGateway<{ topProducts: unknown[] }>(`{ topProducts(first: 501) { id name } }`);
    expect(representationsOf(freshgraphCalls()[0])).toHaveLength(501);
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors?.[0]).toMatchObject({ message: expect.stringMatching(/501 representations; at most 500/), extensions: { serviceName: 'freshgraph' } });
  });
});
