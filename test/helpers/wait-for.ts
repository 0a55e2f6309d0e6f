/**
 * Polls `probe` until `done` accepts its value, and returns that value; fails
 * with the last value after `timeoutMs`. A probe that throws counts as a value
 * (its error), so a test can wait through a fault.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch((err: unknown) => err as T);
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${value instanceof Error ? value.message : JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
