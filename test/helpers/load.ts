import { Worker } from 'node:worker_threads';

/** One request a load client sends again and again. */
export interface LoadRequest {
  readonly query: string;
  readonly variables?: Record<string, unknown>;
}

export interface LoadResult {
  /** Of every request answered, in ms. */
  readonly durations: number[];
  readonly statuses: number[];
  /** Answers that carried GraphQL errors. */
  readonly withErrors: number;
}

export interface Load {
  /** Requests sent and not yet answered, as last reported by the clients. */
  readonly inFlight: number;
  /** Resolves once every client has one request in flight. */
  readonly started: Promise<void>;
  /** Stops sending; resolves once every request sent has been answered. */
  stop(): Promise<LoadResult>;
}

// Plain JavaScript: a worker runs it as is. One loop per client, each request sent when the last was answered.
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, requests } = workerData;
let stopping = false;
parentPort.on('message', () => { stopping = true; });
const durations = [];
const statuses = [];
let withErrors = 0;
let inFlight = 0;
const report = () => parentPort.postMessage({ inFlight });
Promise.all(requests.map(async (request) => {
  const body = JSON.stringify(request);
  while (!stopping) {
    inFlight++;
    report();
    const began = performance.now();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if ((await res.text()).includes('"errors":')) withErrors++;
    durations.push(performance.now() - began);
    statuses.push(res.status);
    inFlight--;
    report();
  }
})).then(() => parentPort.postMessage({ done: { durations, statuses, withErrors } }));
`;

/**
 * Load from clients on another thread, so that the event loop of the server
 * under test (in this process) does none of the clients' work: one client per
 * request, each sending it again as soon as it is answered.
 */
export function startLoad(url: string, requests: readonly LoadRequest[]): Load {
  const worker = new Worker(CLIENT, { eval: true, workerData: { url, requests } });
  let inFlight = 0;
  let onStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const done = new Promise<LoadResult>((resolve, reject) => {
    worker.on('message', (message: { inFlight?: number; done?: LoadResult }) => {
      if (message.inFlight !== undefined) {
        inFlight = message.inFlight;
        if (inFlight === requests.length) onStarted();
      }
      if (message.done !== undefined) resolve(message.done);
    });
    worker.once('error', reject);
  });
  return {
    get inFlight() {
      return inFlight;
    },
    started,
    async stop() {
      worker.postMessage('stop');
      const result = await done;
      await worker.terminate();
      return result;
    },
  };
}
