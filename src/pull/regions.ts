import { createHash } from 'node:crypto';

/**
 * The parts of a file `npm run pull` owns: each between a start line
 * `<comment> pull:<name> <hash>` and an end line `<comment> pull:end <name>`,
 * where the hash is of the lines between them as pull wrote them. Running pull
 * again rewrites what lies between the markers and leaves every other line of
 * the file as it is, so a person's additions outside the markers survive; a
 * region whose text no longer matches its hash was edited by hand, and pull
 * refuses rather than overwrite it (RegionEdited names the file and region).
 */

export type CommentStyle = '//' | '#';

/** A part of a rendered file: text to write once, or a region pull keeps rewriting. */
export type Part = string | { readonly region: string; readonly lines: readonly string[]; readonly indent: string };

export const region = (name: string, lines: readonly string[], indent = ''): Part => ({ region: name, lines, indent });

export class RegionEdited extends Error {
  override readonly name = 'RegionEdited';
}

const hashOf = (lines: readonly string[]): string => createHash('sha256').update(lines.map((l) => l.trimEnd()).join('\n')).digest('hex').slice(0, 12);

const escape = (style: CommentStyle): string => style.replace(/\//g, '\\/');

function renderRegion(style: CommentStyle, part: Exclude<Part, string>): string[] {
  const lines = part.lines.map((l) => (l === '' ? '' : `${part.indent}${l}`));
  return [`${part.indent}${style} pull:${part.region} ${hashOf(lines)}`, ...lines, `${part.indent}${style} pull:end ${part.region}`];
}

/** The file as pull writes it the first time. */
export function renderFile(style: CommentStyle, parts: readonly Part[]): string {
  return `${parts.flatMap((p) => (typeof p === 'string' ? [p] : renderRegion(style, p))).join('\n')}\n`;
}

/**
 * `existing` with every region of `parts` rewritten; the text outside the
 * regions is kept. Throws RegionEdited when a region was edited by hand or is
 * missing (its markers were removed), naming `file`.
 */
export function mergeFile(file: string, style: CommentStyle, existing: string, parts: readonly Part[]): string {
  const lines = existing.replace(/\n$/, '').split('\n');
  const c = escape(style);
  const wanted = new Map(parts.filter((p): p is Exclude<Part, string> => typeof p !== 'string').map((p) => [p.region, p]));
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const start = new RegExp(`^\\s*${c} pull:([\\w-]+) ([0-9a-f]{12})\\s*$`).exec(line);
    if (start === null || start[1] === 'end') {
      out.push(line);
      continue;
    }
    const name = start[1] as string;
    const end = lines.findIndex((l, j) => j > i && new RegExp(`^\\s*${c} pull:end ${name}\\s*$`).test(l));
    if (end === -1) throw new RegionEdited(`${file}: the region "${name}" has no end line (${style} pull:end ${name}); restore it (git checkout ${file}) or delete the start line`);
    const inner = lines.slice(i + 1, end);
    if (hashOf(inner) !== start[2]) {
      throw new RegionEdited(
        `${file}: the lines between "${style} pull:${name}" and "${style} pull:end ${name}" were edited by hand since pull wrote them; ` +
          'pull rewrites that region, so move your change outside the markers (or undo it) and run pull again',
      );
    }
    const part = wanted.get(name);
    // A region pull no longer writes (a connection no list needs any more) goes.
    if (part !== undefined) out.push(...renderRegion(style, part));
    seen.add(name);
    i = end;
  }
  for (const name of wanted.keys()) {
    if (!seen.has(name)) throw new RegionEdited(`${file}: the region "${name}" (${style} pull:${name} ... ${style} pull:end ${name}) is missing; restore it or delete the file to have pull write it anew`);
  }
  return `${out.join('\n')}\n`;
}

/** Whether a file was written by pull (its first line says so). */
export const PULL_HEADER = (style: CommentStyle, table: string): string =>
  `${style} Written by \`npm run pull\` from table ${table}. Pull rewrites the lines between a "pull:<name>" line and its "pull:end <name>";`;

export function pulledTableOf(content: string): string | undefined {
  return /^(?:\/\/|#) Written by `npm run pull` from table ([a-z_][a-z0-9_]*)\./.exec(content)?.[1];
}
