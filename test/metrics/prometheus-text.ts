/** A tiny reader of the Prometheus text format (0.0.4), enough for the metrics tests. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Sample[];
  /** `# TYPE` per metric family. */
  types: Map<string, string>;
  /** `# HELP` per metric family. */
  help: Map<string, string>;
  /** Lines that are neither comments, blank, nor a valid sample. */
  malformed: string[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

const unescape = (v: string) =>
  v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === '\\' ? '\\' : c));

export function parsePrometheus(text: string): Scrape {
  const scrape: Scrape = { samples: [], types: new Map(), help: new Map(), malformed: [] };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (name && type) scrape.types.set(name, type);
      continue;
    }
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const at = rest.indexOf(' ');
      scrape.help.set(rest.slice(0, at), rest.slice(at + 1));
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) {
      scrape.malformed.push(line);
      continue;
    }
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    let consumed = 0;
    for (let l = LABEL.exec(body); l; l = LABEL.exec(body)) {
      labels[l[1]!] = unescape(l[2]!);
      consumed = LABEL.lastIndex;
    }
    const raw = m[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (consumed !== body.length || Number.isNaN(value)) {
      scrape.malformed.push(line);
      continue;
    }
    scrape.samples.push({ name: m[1]!, labels, value });
  }
  return scrape;
}

/** Samples of `name` whose labels include every one of `match`. */
export function select(scrape: Scrape, name: string, match: Record<string, string> = {}): Sample[] {
  return scrape.samples.filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v),
  );
}

/** The single sample of `name` with exactly these labels' values (undefined when absent). */
export function valueOf(
  scrape: Scrape,
  name: string,
  match: Record<string, string> = {},
): number | undefined {
  const found = select(scrape, name, match);
  if (found.length > 1) {
    throw new Error(`${name} ${JSON.stringify(match)} matches ${found.length} samples`);
  }
  return found[0]?.value;
}

/** Sum of the samples of `name` matching `match` (0 when none). */
export function sumOf(scrape: Scrape, name: string, match: Record<string, string> = {}): number {
  return select(scrape, name, match).reduce((n, s) => n + s.value, 0);
}

/**
 * Checks every histogram series of `name` (grouped by its labels without `le`): buckets
 * never decrease with `le`, the `+Inf` bucket equals `_count`, and `_sum` is a finite number
 * no smaller than 0. Returns the problems found.
 */
export function histogramProblems(scrape: Scrape, name: string): string[] {
  const problems: string[] = [];
  const groups = new Map<string, { le: number; value: number }[]>();
  for (const s of select(scrape, `${name}_bucket`)) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(rest);
    const list = groups.get(key) ?? [];
    list.push({ le: le === '+Inf' ? Infinity : Number(le), value: s.value });
    groups.set(key, list);
  }
  if (groups.size === 0) problems.push(`${name}: no buckets`);
  for (const [key, buckets] of groups) {
    const labels = JSON.parse(key) as Record<string, string>;
    buckets.sort((a, b) => a.le - b.le);
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]!.value < buckets[i - 1]!.value) problems.push(`${name}${key}: not monotonic`);
    }
    const inf = buckets.at(-1);
    if (inf?.le !== Infinity) problems.push(`${name}${key}: no +Inf bucket`);
    const count = valueOf(scrape, `${name}_count`, labels);
    const sum = valueOf(scrape, `${name}_sum`, labels);
    if (count !== inf?.value) problems.push(`${name}${key}: _count ${count} != +Inf ${inf?.value}`);
    if (sum === undefined || !Number.isFinite(sum) || sum < 0) {
      problems.push(`${name}${key}: bad _sum ${sum}`);
    }
  }
  return problems;
}
