import { performance } from 'node:perf_hooks';

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

/**
 * One check at a time, its result reused for `reuseMs`: however many probes
 * arrive (an orchestrator's, a load balancer's, from every replica of each),
 * the database and the cache are asked at most once per `reuseMs`, on the same
 * pool GraphQL uses. Probes that arrive while a check runs share its result.
 */
export function coalescedReadiness(
  check: () => Promise<Readiness>,
  reuseMs: number,
  now: () => number = () => performance.now(),
): () => Promise<Readiness> {
  let running: Promise<Readiness> | undefined;
  let last: { readonly at: number; readonly result: Readiness } | undefined;
  return () => {
    if (last !== undefined && now() - last.at < reuseMs) return Promise.resolve(last.result);
    running ??= check()
      .then((result) => {
        last = { at: now(), result };
        return result;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}

/**
 * Adds the instance's own state, which is never reused: a draining instance
 * answers unready at once, whatever the last dependency check said.
 */
export function withServing(readiness: Readiness, serving: boolean): Readiness {
  if (serving) return { ...readiness, checks: { serving: 'ok', ...readiness.checks } };
  return {
    ready: false,
    checks: { serving: 'error', ...readiness.checks },
    errors: { ...readiness.errors, serving: new Error('shutting down') },
  };
}
