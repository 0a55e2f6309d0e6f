import type { ChainableCommander, Redis } from 'ioredis';
import { asError, type Reply } from './cluster-routing.js';
import { UnconfirmedWriteError } from './store.js';

/**
 * The write-throughs of one master connection (a Redis Cluster master's, or
 * one Redis's), sent so that at most one WAIT is outstanding (group commit).
 * WAIT holds the connection until replicas confirm, so pipelines sent one
 * after another would each wait in turn: with a replica gone, the n-th
 * concurrent mutation would wait n timeouts. Instead, writes that arrive while
 * a WAIT is out go together in the next pipeline, behind one WAIT that
 * confirms them all: no write waits more than two.
 */
export class ConfirmedPipeline {
  private queued: { queue: (pipeline: ChainableCommander) => void; count: number; resolve: (r: Reply[]) => void; reject: (e: Error) => void }[] = [];
  private busy = false;

  constructor(
    private readonly node: Redis,
    private readonly replicas: number,
    private readonly timeoutMs: number,
    /** The option that asks for the replicas, named in the error. */
    private readonly setting: string,
  ) {}

  /** Replies to the commands `queue` adds, once a WAIT after them has answered; rejects if it was not enough. */
  send(queue: (pipeline: ChainableCommander) => void, count: number): Promise<Reply[]> {
    return new Promise((resolve, reject) => {
      this.queued.push({ queue, count, resolve, reject });
      if (!this.busy) this.flush();
    });
  }

  private flush(): void {
    const jobs = this.queued;
    this.queued = [];
    this.busy = true;
    const settle = (results: Reply[] | null): void => {
      if (results === null) throw new Error('Redis pipeline was discarded');
      const total = jobs.reduce((sum, job) => sum + job.count, 0);
      const [waitError, acked] = results[total] ?? [new Error('missing WAIT reply'), 0];
      const failure = waitError ?? unconfirmed(Number(acked), this.replicas, this.timeoutMs, this.node, this.setting);
      let offset = 0;
      for (const job of jobs) {
        if (failure) job.reject(failure);
        else job.resolve(results.slice(offset, offset + job.count));
        offset += job.count;
      }
    };
    const pipeline = this.node.pipeline();
    for (const job of jobs) job.queue(pipeline);
    pipeline.wait(this.replicas, this.timeoutMs);
    pipeline
      .exec()
      .then(settle)
      .catch((err: unknown) => {
        for (const job of jobs) job.reject(asError(err));
      })
      .finally(() => {
        this.busy = false;
        if (this.queued.length > 0) this.flush();
      });
  }
}

/** The error for a WAIT that fewer replicas answered than required, or null; `setting` names the option that asks for them. */
export function unconfirmed(acked: number, required: number, timeoutMs: number, node: Redis | undefined, setting: string): UnconfirmedWriteError | null {
  if (acked >= required) return null;
  const where = node ? `${node.options.host}:${node.options.port}` : 'its master';
  return new UnconfirmedWriteError(
    `write-through on ${where} was confirmed by ${acked} of ${required} replicas within ${timeoutMs} ms; ` +
      `a failover could undo it, so it counts as failed (is a replica down? see ${setting})`,
  );
}
