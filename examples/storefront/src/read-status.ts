import type { ObservableQuery } from '@apollo/client';
import { NetworkStatus } from '@apollo/client';
import { formatTime } from './dom.js';
import { describeError } from './errors.js';

export interface ReadStatus {
  /** A result of the page's query `name`: a network status, data, or an error. */
  update(name: string, result: ObservableQuery.Result<unknown>): void;
  /** The query is no longer watched (its view shows something else now). */
  forget(name: string): void;
}

/**
 * The page's status line, for all its queries at once: "reading…" while any of
 * them is on the network, the time when the last one answered, or the error of
 * one that failed. A result that only came from Apollo's cache (a mutation's
 * answer normalised into it) is not a read and leaves the time alone.
 */
export function createReadStatus(element: HTMLElement): ReadStatus {
  const reading = new Set<string>();
  const failed = new Map<string, unknown>();
  let readAt: Date | undefined;

  const paint = (): void => {
    const [error] = failed.values();
    if (failed.size > 0) {
      element.textContent = describeError(error);
      element.dataset['state'] = 'error';
    } else if (reading.size > 0 || readAt === undefined) {
      element.textContent = 'reading\u2026';
      element.dataset['state'] = 'loading';
    } else {
      element.textContent = `read at ${formatTime(readAt)}`;
      element.dataset['state'] = 'ready';
    }
  };

  return {
    update(name, result) {
      if (result.error) {
        reading.delete(name);
        failed.set(name, result.error);
      } else if (result.networkStatus === NetworkStatus.ready) {
        const recovered = failed.delete(name);
        const answered = reading.delete(name);
        if (answered && reading.size === 0) readAt = new Date();
        if (!answered && !recovered) return;
      } else {
        reading.add(name);
      }
      paint();
    },
    forget(name) {
      reading.delete(name);
      failed.delete(name);
      paint();
    },
  };
}
