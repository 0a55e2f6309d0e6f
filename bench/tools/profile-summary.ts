/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --profile`): self time by
 * function and by package, and inclusive time of chosen frames.
 * Usage: npx tsx bench/tools/profile-summary.ts <file.cpuprofile> [top=40] [skip-seconds=0]
 * (skip the start-up: module loading is not what a benchmark measures)
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, skipArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/tools/profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 40);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const skipUs = Number(skipArg ?? 0) * 1e6;
const selfUs = new Map<number, number>();
let clock = 0;
profile.samples.forEach((id, i) => {
  clock += profile.timeDeltas[i] ?? 0;
  if (clock >= skipUs) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName !== '(idle)').reduce((a, [, b]) => a + b, 0);
// Percentages below are of busy (non-idle) time.

function where(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1] as string;
  if (url.includes('/src/')) return `src/${url.split('/src/')[1]}`;
  if (url.includes('/bench/')) return `bench/${url.split('/bench/')[1]}`;
  if (url.startsWith('node:')) return url;
  return url === '' ? '(native)' : url;
}
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

/** The package a sample's time is charged to: its own frame's, or for native and node: frames, the nearest caller's outside them. */
function chargedTo(id: number): string {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const url = (byId.get(cur) as Node).callFrame.url;
    const w = where(url);
    if (w === '(native)' || w.startsWith('node:')) continue;
    return w.startsWith('src/') ? w.replace(/^src\/([^/]+)\/.*$/, 'src/$1/') : w.replace(/\/.*$/, '');
  }
  const own = where((byId.get(id) as Node).callFrame.url);
  return own.startsWith('node:') ? 'node (no package on the stack)' : (byId.get(id) as Node).callFrame.functionName || own;
}
const charged = new Map<string, number>();

const fnSelf = new Map<string, number>();
const pkgSelf = new Map<string, number>();
const incl = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id) as Node;
  fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + us);
  const pkg = where(n.callFrame.url).replace(/\/.*$/, (m) => (where(n.callFrame.url).startsWith('src/') ? m : ''));
  pkgSelf.set(pkg, (pkgSelf.get(pkg) ?? 0) + us);
  if (n.callFrame.functionName !== '(idle)') charged.set(chargedTo(id), (charged.get(chargedTo(id)) ?? 0) + us);
  // Inclusive: every distinct frame label on the stack gets the sample once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur) as Node);
    if (!seen.has(l)) {
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + us);
    }
  }
}
const show = (title: string, m: Map<string, number>, n: number) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
};
console.log(`total sampled: ${(total / 1e6).toFixed(1)} s`);
show('self time by package', pkgSelf, 25);
// Where a request's CPU goes: a socket write is charged to pg, ioredis or the HTTP handler that asked for it.
show('busy time by the package that caused it (native and node: frames charged to their nearest caller)', charged, 60);
show('self time by function', fnSelf, top);
show('inclusive time by function', incl, top);
