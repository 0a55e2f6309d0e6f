import { CONFIGURATION } from './configurations.js';
import type { ServerProcess } from './processes.js';
import { LIST_PAGE_QUERY, RequestFactory } from './workloads.js';

interface Answer {
  readonly status: number;
  readonly body: string;
}

async function post(url: string, body: string): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, body: await res.text() };
}

const clip = (s: string) => (s.length > 600 ? `${s.slice(0, 600)}...` : s);

/**
 * An answer as compared across configurations: cursors are opaque (each server
 * may encode its own), and `own` strings (ids and timestamps a server made up,
 * such as a new order's) become placeholders; every other byte must match.
 */
function comparable(body: string, own: readonly string[] = []): string {
  let out = body.replace(/"(cursor|startCursor|endCursor)":"[^"]*"/g, '"$1":"<cursor>"');
  own.forEach((value, i) => {
    out = out.split(value).join(`<own ${i}>`);
  });
  return out;
}

/** Throws unless every configuration answered 200 without errors and, after `comparable`, with the same bytes as the first. */
function expectAlike(servers: readonly ServerProcess[], requests: readonly string[], answers: readonly Answer[], own: readonly (readonly string[])[] = []): void {
  const [reference] = answers as [Answer];
  const name = servers[0]?.name;
  if (reference.status !== 200 || reference.body.includes('"errors"')) {
    throw new Error(`${name} failed a sample request:\n${clip(requests[0] as string)}\n-> ${reference.status} ${clip(reference.body)}`);
  }
  const expected = comparable(reference.body, own[0]);
  answers.forEach((answer, i) => {
    if (i === 0) return;
    if (answer.status !== reference.status || comparable(answer.body, own[i]) !== expected) {
      throw new Error(
        `${servers[i]?.name} answers differently from ${name}${own.length > 0 || answer.body.includes('ursor"') ? ' (cursors and new ids aside)' : ''}:\n` +
          `request ${clip(requests[i] as string)}\n${name}: ${reference.status} ${clip(reference.body)}\n${servers[i]?.name}: ${answer.status} ${clip(answer.body)}`,
      );
    }
  });
}

type Json = Record<string, unknown> | undefined;
const at = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, key) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined), value);
const page = (id: string, first: number | undefined, after: string | undefined) =>
  JSON.stringify({ query: LIST_PAGE_QUERY, variables: { id, ...(first === undefined ? {} : { first }), ...(after === undefined ? {} : { after }) } });

/**
 * The list workloads' requests, and pages a workload never sends: the first
 * page of the most popular account walked to beyond freshgraph's cached window
 * (200 orders) with each configuration's own cursors, the default page size,
 * an empty page; then one placeOrder on the least popular account and products (its id and
 * createdAt are each server's own) and that account's first page with the new
 * order at its head. That account is read nowhere before, so no response cache
 * holds its list from before the order. Returns the requests compared.
 */
async function verifyLists(data: readonly ServerProcess[], accounts: readonly string[], factory: RequestFactory): Promise<number> {
  const last = accounts.length - 1;
  const ranks = new Set([0, 1, Math.max(0, last - 1)]);
  for (let i = 0; i < 12; i++) ranks.add(factory.accountZipfRank());
  ranks.delete(last);
  let compared = 0;
  const same = async (body: string) => {
    expectAlike(data, data.map(() => body), await Promise.all(data.map((s) => post(s.url, body))));
    compared++;
  };
  for (const rank of ranks) {
    await same(factory.accountOrders(rank));
    await same(factory.accountOrders(rank, true));
  }
  // Each configuration pages on with the endCursor it gave.
  const walk = async (id: string, first: number | undefined, pages: number) => {
    let after: (string | undefined)[] = data.map(() => undefined);
    for (let p = 0; p < pages; p++) {
      const requests = after.map((a) => page(id, first, a));
      const answers = await Promise.all(data.map((s, i) => post(s.url, requests[i] as string)));
      expectAlike(data, requests, answers);
      compared++;
      const parsed = answers.map((a) => JSON.parse(a.body) as Json);
      if (at(parsed[0], 'data', 'account', 'orders', 'pageInfo', 'hasNextPage') !== true) return;
      after = parsed.map((x) => at(x, 'data', 'account', 'orders', 'pageInfo', 'endCursor') as string);
    }
  };
  await walk(accounts[0] as string, 100, 3);
  await walk(accounts[1] as string, undefined, 2);
  await walk(accounts[0] as string, 0, 1);
  if (last > 0) {
    // Products no sample above reads (the least popular ones), so no response cache holds them from before the order.
    const body = factory.placeOrder(last, [factory.ids.length - 2, factory.ids.length - 3]);
    const answers = await Promise.all(data.map((s) => post(s.url, body)));
    const own = answers.map((a) => {
      const order = at(JSON.parse(a.body), 'data', 'placeOrder');
      return [String(at(order, 'id')), String(at(order, 'createdAt'))];
    });
    expectAlike(data, data.map(() => body), answers, own);
    compared++;
    const read = page(accounts[last] as string, 5, undefined);
    expectAlike(data, data.map(() => read), await Promise.all(data.map((s) => post(s.url, read))), own);
    compared++;
  }
  return compared;
}

/**
 * Before anything is measured, every configuration that holds data must answer the
 * bench's requests with the same status and bytes, or the comparison would be of
 * different work: a sample of `product(id)`, `products(ids)` and `_entities`
 * requests, then one `adjustStock` there and back on the least popular product
 * (every copy of the data set changes alike), then the list requests (verifyLists;
 * there cursors, and the id and createdAt of a new order, may differ). The
 * http-ceiling's fixed body must be what they answer for its product (ids[0]).
 * Throws on the first difference. Returns the number of requests compared.
 */
export async function verifyBodies(
  servers: readonly ServerProcess[],
  { products: ids, accounts }: { readonly products: readonly string[]; readonly accounts: readonly string[] },
  batch: number,
  ceilingBody: string | undefined,
): Promise<number> {
  const data = servers.filter((s) => CONFIGURATION[s.name].database);
  const ceiling = servers.find((s) => !CONFIGURATION[s.name].database);
  const factory = new RequestFactory(ids, 0.99, 4242, accounts);
  const reads = [factory.product(0)];
  for (let i = 0; i < 12; i++) reads.push(factory.product(factory.zipfRank()));
  for (let i = 0; i < 4; i++) reads.push(factory.products(batch), factory.entities(batch));
  const last = ids.length - 1;
  const bodies = [...reads, factory.adjustStock(last), factory.adjustStock(last)];
  let compared = 0;
  if (data.length > 0) {
    for (const body of bodies) {
      const answers = await Promise.all(data.map((s) => post(s.url, body)));
      const [reference, ...others] = answers as [Answer, ...Answer[]];
      if (reference.status !== 200 || reference.body.includes('"errors"')) {
        throw new Error(`${data[0]?.name} failed a sample request:\n${clip(body)}\n-> ${reference.status} ${clip(reference.body)}`);
      }
      others.forEach((answer, i) => {
        if (answer.status !== reference.status || answer.body !== reference.body) {
          throw new Error(
            `${data[i + 1]?.name} answers differently from ${data[0]?.name}:\nrequest ${clip(body)}\n` +
              `${data[0]?.name}: ${reference.status} ${clip(reference.body)}\n${data[i + 1]?.name}: ${answer.status} ${clip(answer.body)}`,
          );
        }
      });
      compared++;
    }
    if (accounts.length > 0) compared += await verifyLists(data, accounts, factory);
  }
  if (ceiling !== undefined) {
    const answer = await post(ceiling.url, factory.product(0));
    if (answer.status !== 200 || answer.body !== ceilingBody) throw new Error(`http-ceiling does not send the body it was given: ${clip(answer.body)}`);
    if (data.length > 0) {
      const reference = await post((data[0] as ServerProcess).url, factory.product(0));
      if (reference.body !== answer.body) {
        throw new Error(`http-ceiling's body differs from ${data[0]?.name}'s product(id) answer:\n${clip(answer.body)}\n${clip(reference.body)}`);
      }
    }
    compared++;
  }
  return compared;
}
