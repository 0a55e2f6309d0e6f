import type { Server } from 'node:http';
import type { Socket } from 'node:net';

interface ConnectionState {
  readonly openedAt: number;
  /** Requests being handled now. */
  active: number;
  /** Requests answered so far. */
  served: number;
}

/**
 * Knows which connections are between requests, so that a drain can close
 * them without dropping a request that is still arriving: a connection that
 * has never carried a request is given `freshGraceMs` before it counts as idle
 * (Node's own closeIdleConnections would end it at once).
 */
export class ConnectionTracker {
  private readonly connections = new Map<Socket, ConnectionState>();

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.connections.set(socket, { openedAt: Date.now(), active: 0, served: 0 });
      socket.once('close', () => this.connections.delete(socket));
    });
    server.on('request', (req, res) => {
      const state = this.connections.get(req.socket);
      if (!state) return;
      state.active++;
      res.once('close', () => {
        state.active--;
        state.served++;
      });
    });
  }

  /** Ends every connection that has nothing in flight; resolves to how many it ended. */
  closeIdle(freshGraceMs: number): number {
    const now = Date.now();
    let closed = 0;
    for (const [socket, state] of this.connections) {
      if (state.active > 0) continue;
      if (state.served === 0 && now - state.openedAt < freshGraceMs) continue;
      socket.end();
      closed++;
    }
    return closed;
  }

  get size(): number {
    return this.connections.size;
  }
}
