/**
 * "Full jitter" exponential backoff: a uniform delay in [0, base * 2^attempt],
 * capped, so that retries from many instances do not arrive in lockstep.
 */
export function backoffDelayMs(attempt: number, baseMs: number, random: () => number, capMs = 2000): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
