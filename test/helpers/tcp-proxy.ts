import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback between one client and its server, to cut that one
 * client off: `block()` keeps its connections open but forwards nothing (a
 * network partition), `reset()` tears them down (as a peer RST would), and
 * `delay(ms)` makes every byte arrive that much later (a slow network or server).
 */
export class TcpProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private blocked = false;
  private delayMs = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.accept(client));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('proxy has no port');
    proxy = new TcpProxy(server, address.port, targetPort);
    return proxy;
  }

  /** New connections go to `port` (a failover's promoted replica); drop the old ones with reset(). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /**
   * Stop forwarding in both directions; new connections are accepted but hang
   * as well. Bytes sent meanwhile are lost, so a block always ends in reset().
   */
  block(): void {
    this.blocked = true;
  }

  /** Forward every chunk, in both directions, `ms` after it arrived (in order); 0 forwards at once. */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Drop every connection, and forward normally again. */
  reset(): void {
    this.blocked = false;
    for (const [a, b] of this.pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (this.blocked) return;
      // Timers of equal delay fire in the order they were set, so the stream stays in order.
      if (this.delayMs > 0) setTimeout(() => void (to.destroyed || to.write(chunk)), this.delayMs);
      else to.write(chunk);
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  }
}
