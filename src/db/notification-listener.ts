import pg from 'pg';

export interface ListenOptions {
  readonly channel: string;
  /** Called for every notification on the channel. */
  readonly onNotify: () => void;
  /** A connection attempt failed or the connection dropped; it is retried. @default ignored */
  readonly onError?: (err: unknown) => void;
  /** First pause before reconnecting; doubles per failed attempt. @default 1000 */
  readonly reconnectMs?: number;
  /** Longest pause between attempts. @default 10000 */
  readonly maxReconnectMs?: number;
}

/** A subscription to a NOTIFY channel. */
export interface Listening {
  /** Whether the subscription is in place now (notifications sent meanwhile are lost: poll too). */
  readonly connected: boolean;
  close(): Promise<void>;
}

/**
 * LISTENs on a Postgres connection of its own, never one of the pool's: a
 * pooled connection goes back to the pool between queries, and its LISTEN with
 * it. When the connection drops (a restart, pg_terminate_backend, a network
 * fault) it reconnects with backoff; notifications sent while it was away are
 * lost, which is why whoever listens also polls. The first pause is long
 * enough not to hammer a restarting server and short next to the poll.
 */
export class NotificationListener implements Listening {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private closed = false;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly options: ListenOptions,
  ) {
    this.connect();
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connect(): void {
    this.timer = undefined;
    const client = new pg.Client({ ...this.connection, keepAlive: true });
    let dropped = false;
    const drop = (err: unknown) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = undefined;
      void client.end().catch(() => undefined);
      if (this.closed) return;
      if (err !== undefined) this.options.onError?.(err);
      const base = this.options.reconnectMs ?? 1000;
      const delay = Math.min(base * 2 ** this.attempt, this.options.maxReconnectMs ?? 10_000);
      this.attempt++;
      this.timer = setTimeout(() => this.connect(), delay);
    };
    client.on('error', drop);
    client.on('end', () => drop(new Error('listening connection closed')));
    client.on('notification', (message) => {
      if (message.channel === this.options.channel) this.options.onNotify();
    });
    client
      .connect()
      .then(() => client.query(`listen "${this.options.channel.replace(/"/g, '""')}"`))
      .then(
        () => {
          if (this.closed || dropped) return void client.end().catch(() => undefined);
          this.client = client;
          this.attempt = 0;
        },
        (err: unknown) => drop(err),
      );
  }
}
