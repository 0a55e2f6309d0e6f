/**
 * The read barrier of the local copy (invariant 14): a reader may use the
 * local copy only once a round trip on the invalidation connection that began
 * after the reader arrived has come back. Redis runs commands one at a time
 * and queues an invalidation on that connection while it runs the write that
 * causes it, so the PING's reply comes after the invalidation of every write
 * Redis acknowledged before the PING arrived.
 *
 * One PING serves every reader that arrived before it was sent: readers of one
 * turn of the event loop share it, and a reader that arrives once it has gone
 * waits for the next one, never for one already on its way.
 */
export class ReadBarrier {
  private next: Promise<void> | undefined;
  /** PINGs sent so far: with the local copy's hits, what a warm read costs Redis. */
  pings = 0;

  constructor(private readonly roundTrip: () => Promise<unknown>) {}

  /** Resolves once a round trip sent after this call has come back; rejects if it fails. */
  pass(): Promise<void> {
    if (this.next !== undefined) return this.next;
    const next = new Promise<void>((resolve, reject) => {
      // At the end of this turn of the loop, so that every request that arrived in it shares the PING.
      setImmediate(() => {
        // From here on, a new reader needs a new PING: this one may have been sent before it arrived.
        if (this.next === next) this.next = undefined;
        this.pings++;
        this.roundTrip().then(() => resolve(), reject);
      });
    });
    this.next = next;
    return next;
  }
}
