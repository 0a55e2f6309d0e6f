import { CONFIGURATION } from './configurations.js';
import type { ServerProcess } from './processes.js';
import { RequestFactory } from './workloads.js';

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
 * Before anything is measured, every configuration that holds data must answer the
 * bench's requests with the same status and bytes, or the comparison would be of
 * different work: a sample of `product(id)`, `products(ids)` and `_entities`
 * requests, then one `adjustStock` there and back on the least popular product
 * (every copy of the data set changes alike). The http-ceiling's fixed body must be
 * what they answer for its product (ids[0]). Throws on the first difference.
 * Returns the number of requests compared.
 */
export async function verifyBodies(
  servers: readonly ServerProcess[],
  ids: readonly string[],
  batch: number,
  ceilingBody: string | undefined,
): Promise<number> {
  const data = servers.filter((s) => CONFIGURATION[s.name].database);
  const ceiling = servers.find((s) => !CONFIGURATION[s.name].database);
  const factory = new RequestFactory(ids, 0.99, 4242);
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
