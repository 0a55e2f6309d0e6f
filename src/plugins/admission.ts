/**
 * How much work one instance runs at once. Node runs a request's CPU work (graphql
 * completion of a list, serializing it) in one piece, so with ten requests of the
 * largest allowed cost ready at once, anything else waits behind all ten pieces.
 * Requests above `lightCost` therefore take their cost out of a budget while they
 * run, and wait in line (first come, first served, using no CPU) while the budget
 * cannot hold them; requests at or below `lightCost` never wait, so a cheap
 * request is answered behind at most a budget's worth of work.
 *
 * The invariant: the costs of the heavy requests admitted and not yet left sum to
 * at most `budget`, except for one request alone, which is always admitted.
 */
export interface AdmissionOptions {
  /** The most cost that requests above `lightCost` may have running at once. */
  readonly budget: number;
  /** Requests that cost this or less are admitted at once, whatever runs. */
  readonly lightCost: number;
  /** The longest a request waits in line; past it, it is refused having run nothing. */
  readonly maxWaitMs: number;
  /** @default setTimeout */
  readonly setTimer?: (run: () => void, ms: number) => { cancel(): void };
}

/** One request's place: `admitted` settles true once it may run, false when it waited `maxWaitMs` in vain. */
export interface Ticket {
  readonly cost: number;
  readonly admitted: Promise<boolean>;
}

interface Waiting {
  readonly ticket: Ticket;
  readonly settle: (admitted: boolean) => void;
  readonly timer: { cancel(): void };
}

const ADMITTED: Promise<boolean> = Promise.resolve(true);

export class Admission {
  private running = 0;
  private readonly line: Waiting[] = [];
  private readonly holding = new Set<Ticket>();
  private readonly setTimer: NonNullable<AdmissionOptions['setTimer']>;

  constructor(private readonly options: AdmissionOptions) {
    this.setTimer =
      options.setTimer ??
      ((run, ms) => {
        // Past 2^31 - 1 ms, setTimeout fires at once: such a wait has no end.
        if (!(ms <= 2 ** 31 - 1)) return { cancel: () => {} };
        const handle = setTimeout(run, ms);
        return { cancel: () => clearTimeout(handle) };
      });
  }

  /** Cost held by the requests running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Requests waiting in line now. */
  get waiting(): number {
    return this.line.length;
  }

  /** A ticket admitted now, or undefined when the request would have to wait (nothing is then held). */
  tryEnter(cost: number): Ticket | undefined {
    if (cost <= this.options.lightCost) return { cost, admitted: ADMITTED };
    return this.line.length === 0 && this.fits(cost) ? this.admit({ cost, admitted: ADMITTED }) : undefined;
  }

  /** A place for a request of this cost: admitted now, or in line. */
  enter(cost: number): Ticket {
    const now = this.tryEnter(cost);
    if (now !== undefined) return now;
    let settle: (admitted: boolean) => void = () => {};
    const ticket: Ticket = { cost, admitted: new Promise<boolean>((resolve) => (settle = resolve)) };
    const timer = this.setTimer(() => {
      const at = this.line.findIndex((w) => w.ticket === ticket);
      if (at === -1) return;
      this.line.splice(at, 1);
      settle(false);
      // The head of the line may have been this one: those behind it may fit now.
      this.admitWaiting();
    }, this.options.maxWaitMs);
    this.line.push({ ticket, settle, timer });
    return ticket;
  }

  /** The request is done, or gave up: its cost goes back to the budget, or its place in line to the next. */
  leave(ticket: Ticket): void {
    if (this.holding.delete(ticket)) {
      this.running -= ticket.cost;
    } else {
      const at = this.line.findIndex((w) => w.ticket === ticket);
      if (at === -1) return;
      const [gone] = this.line.splice(at, 1);
      gone?.timer.cancel();
      gone?.settle(false);
    }
    this.admitWaiting();
  }

  private fits(cost: number): boolean {
    return this.running === 0 || this.running + cost <= this.options.budget;
  }

  private admit(ticket: Ticket): Ticket {
    this.running += ticket.cost;
    this.holding.add(ticket);
    return ticket;
  }

  private admitWaiting(): void {
    for (let next = this.line[0]; next !== undefined && this.fits(next.ticket.cost); next = this.line[0]) {
      this.line.shift();
      next.timer.cancel();
      this.admit(next.ticket);
      next.settle(true);
    }
  }
}
