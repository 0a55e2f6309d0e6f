import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from './spawn-server.js';

/** A copy of this checkout in a temporary folder, to change and run beside it (another deploy's code). */
export interface ProjectCopy {
  readonly root: string;
  /** Replaces `search` in a file of the copy, which must hold it. */
  edit(path: string, search: string | RegExp, replacement: string): void;
  write(path: string, content: string): void;
  remove(): void;
}

/** The files git tracks (as they are on disk now, edits included) and a link to node_modules. */
export function copyProject(): ProjectCopy {
  const root = mkdtempSync(join(tmpdir(), 'freshgraph-copy-'));
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    try {
      cpSync(join(PROJECT_ROOT, file), join(root, file));
    } catch {
      // deleted from the working tree but still tracked: the copy goes without it, as the checkout does
    }
  }
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'));
  return {
    root,
    edit(path, search, replacement) {
      const file = join(root, path);
      const before = readFileSync(file, 'utf8');
      const after = before.replace(search, replacement);
      if (after === before) throw new Error(`${path} does not hold ${String(search)}`);
      writeFileSync(file, after);
    },
    write(path, content) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
