import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { freePort } from './redis-process.js';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly logLines: string[];
  /** Sends the signal (SIGTERM by default) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** This checkout. */
export const PROJECT_ROOT = new URL('../..', import.meta.url).pathname;

/**
 * Runs `src/main.ts` as its own process, exactly as `npm start` does, with only
 * the environment given (plus PATH) on a free loopback port, and waits until
 * it answers /healthz. `root`: another copy of the project (project-copy.ts).
 */
export async function spawnServer(env: Record<string, string>, timeoutMs = 60_000, root: string = PROJECT_ROOT): Promise<ServerProcess> {
  const port = env['PORT'] ?? String(await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logLines: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => logLines.push(line));
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = once(child, 'exit');
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited with ${child.exitCode ?? child.signalCode}:\n${logLines.join('\n')}\n${stderr.join('')}`);
    }
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start in ${timeoutMs} ms:\n${logLines.join('\n')}\n${stderr.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    url: `${base}/graphql`,
    logLines,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
