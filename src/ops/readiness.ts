/** One dependency /readyz asks, by name (`database`, `cache`). */
export interface ReadinessCheck {
  readonly name: string;
  run(): Promise<unknown>;
}

export type CheckOutcome = 'ok' | 'timeout' | 'error';

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, CheckOutcome>>;
  /** The errors behind `error` outcomes, for the log; never sent to clients. */
  readonly errors: Readonly<Record<string, unknown>>;
}

/**
 * Runs every check at once, each bounded by `timeoutMs`: a dependency that does
 * not answer in time counts as down, so the probe itself never hangs.
 */
export async function checkReadiness(checks: readonly ReadinessCheck[], timeoutMs: number): Promise<Readiness> {
  const outcomes: Record<string, CheckOutcome> = {};
  const errors: Record<string, unknown> = {};
  await Promise.all(
    checks.map(async (check) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      try {
        outcomes[check.name] = await Promise.race([check.run().then(() => 'ok' as const), timedOut]);
      } catch (err) {
        outcomes[check.name] = 'error';
        errors[check.name] = err;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: Object.values(outcomes).every((outcome) => outcome === 'ok'), checks: outcomes, errors };
}
