import { readFileSync } from 'node:fs';

/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function, and per
 * owner (genway's own code under src/, a package under node_modules, Node's internals, the
 * garbage collector). Idle time is left out of the percentages; `skipMs` leaves out the
 * first milliseconds of the profile (the process starting and loading its modules).
 *
 *   tsx bench/cpuprofile-top.ts <file.cpuprofile> [top=15] [skipMs=0]
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Cost {
  name: string;
  owner: string;
  ms: number;
  pct: number;
}

/** Who a frame belongs to: 'genway', a package name, 'node' or a V8 pseudo-frame. */
export function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : 'native';
  if (url.startsWith('node:')) return 'node';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.includes('/src/')) return 'genway';
  if (url.includes('/bench/')) return 'bench';
  return 'other';
}

export function summariseProfile(profile: CpuProfile, skipMs = 0) {
  const selfUs = new Map<number, number>();
  let elapsedUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    elapsedUs += delta;
    if (elapsedUs >= skipMs * 1000) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const byFunction = new Map<string, { name: string; owner: string; us: number }>();
  const byOwner = new Map<string, number>();
  let busyUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (us === 0 || functionName === '(idle)') continue;
    busyUs += us;
    const owner = ownerOf(url, functionName);
    const file = url.replace(/^.*\/(src|node_modules)\//, '$1/').replace(/^file:\/\//, '');
    // Lines of genway's frames are those of tsx's output, not of the source: left out.
    const where = owner === 'genway' ? file : file && `${file}:${lineNumber + 1}`;
    const name = `${functionName || '(anonymous)'} ${where}`.trim();
    const entry = byFunction.get(name) ?? { name, owner, us: 0 };
    entry.us += us;
    byFunction.set(name, entry);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
  }
  const toCost = (name: string, owner: string, us: number): Cost => ({
    name,
    owner,
    ms: us / 1000,
    pct: (us / busyUs) * 100,
  });
  return {
    busyMs: busyUs / 1000,
    functions: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .map((f) => toCost(f.name, f.owner, f.us)),
    owners: [...byOwner].sort((a, b) => b[1] - a[1]).map(([owner, us]) => toCost(owner, owner, us)),
  };
}

export function renderProfile(file: string, top = 15, skipMs = 0): string[] {
  const s = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, skipMs);
  return [
    `${file}: ${s.busyMs.toFixed(0)} ms of CPU (idle and the first ${Math.round(skipMs)} ms left out)`,
    '  by owner (self time):',
    ...s.owners.slice(0, 12).map((o) => `    ${o.pct.toFixed(1).padStart(5)}%  ${o.name}`),
    `  top ${top} functions (self time):`,
    ...s.functions
      .slice(0, top)
      .map((f) => `    ${f.pct.toFixed(1).padStart(5)}%  [${f.owner}] ${f.name}`),
  ];
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [file, top, skip] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: tsx bench/cpuprofile-top.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${renderProfile(file, Number(top ?? 15), Number(skip ?? 0)).join('\n')}\n`);
}
