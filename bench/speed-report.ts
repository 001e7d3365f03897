/**
 * The speed benchmark's table and the issue 16 goals: figures are medians over the rounds;
 * a ratio of genway to a baseline is the median of the two's ratios in each round (the
 * machine's speed drifts between rounds, and each genway target is measured next to its
 * baseline).
 */
import { median } from './speed-client.js';

export interface Measure {
  p50: number;
  p99: number;
  /** Through the server minus direct to the upstream, same round (ms). */
  addedP50: number;
  addedP99: number;
  /** 2xx answers per second at c=50. */
  rate: number;
}

/** The medians of a target's rounds, and the rounds. */
export interface Figure extends Measure {
  rounds: Measure[];
}

/** a's figure over b's in each round where both make sense. */
function roundRatios(a: Figure, b: Figure, key: keyof Measure): number[] {
  return a.rounds
    .map((r, i) => [r[key], b.rounds[i]?.[key]] as const)
    .filter(
      (pair): pair is readonly [number, number] =>
        pair[1] !== undefined && pair[1] > 0 && pair[0] >= 0,
    )
    .map(([x, y]) => x / y);
}

/** Median over the rounds of a's figure over b's, in rounds where both make sense. */
export function pairRatio(a: Figure, b: Figure, key: keyof Measure): number {
  return median(roundRatios(a, b, key));
}
export type Figures = Partial<Record<string, Figure>>;

export interface RssFigure {
  tasks: number;
  seconds: number;
  idleMb: number;
  afterMb: number;
  peakMb: number;
  /** JS heap in use after a full GC, idle and after the tasks (measured after the RSS). */
  idleHeapMb: number;
  afterHeapMb: number;
}

export interface Goal {
  text: string;
  value: string;
  met: boolean | undefined;
  /** The figure of each round (each on fresh processes): how far apart they came. */
  rounds?: number[];
}

const LABELS: Record<string, string> = {
  direct: 'upstream called directly (ModelsLab stub)',
  proxy: 'bare Fastify + undici proxy (POST)',
  proxySqlite: 'bare proxy + a SQLite write before and after',
  hello: 'Fastify hello-world (GET)',
  helloTask: "Fastify hello-world, the task's JSON (GET)",
  sqliteCreate: 'genway SQLite: create, Prefer: wait',
  sqliteRead: 'genway SQLite: read a finished task',
  sqliteCreateMedia: 'genway SQLite: create, media storage (file:)',
  redisCreate: 'genway Redis: create, Prefer: wait',
  redisRead: 'genway Redis: read a finished task',
  proxyRedis: 'bare proxy + a Redis write before and after',
  redisBaseline: "Fastify + one Redis HMGET, the task's JSON",
};
const CREATES = new Set([
  'proxy',
  'proxySqlite',
  'sqliteCreate',
  'sqliteCreateMedia',
  'redisCreate',
  'proxyRedis',
]);

const ms = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(2) : '—');
/** genway's figure over the baseline's, per round (pairRatio), as text. */
const ratio = (a: Figure, b: Figure, key: keyof Measure) => {
  const r = pairRatio(a, b, key);
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : '—';
};
const rate = (v: number | undefined) => (v === undefined ? '—' : `${(v / 1000).toFixed(2)}k`);

/**
 * The goals of issue 16, each checked on ratios of the same run. "The same within 20 % on
 * Redis" is read as: each SQLite bound loosened by 20 % (0.8x the throughput ratios, 1.2x
 * the latency bounds).
 */
export function checkGoals(f: Figures, rss: RssFigure, rssTarget: number): Goal[] {
  const goals: Goal[] = [];
  for (const [store, slack] of [
    ['sqlite', 1],
    ['redis', 1.2],
  ] as const) {
    const create = f[`${store}Create`];
    const read = f[`${store}Read`];
    const name = store === 'sqlite' ? 'SQLite' : 'Redis';
    if (!create || !read) {
      goals.push({ text: `${name}: not measured`, value: '—', met: undefined });
      continue;
    }
    const createRatios = roundRatios(create, f.proxy!, 'rate');
    const p50Ratios = roundRatios(create, f.proxy!, 'addedP50');
    const readRatios = roundRatios(read, f.hello!, 'rate');
    const createRatio = median(createRatios);
    const p50Ratio = median(p50Ratios);
    const readRatio = median(readRatios);
    goals.push(
      {
        text: `${name} create throughput ≥ ${(0.8 / slack).toFixed(2)}x the bare proxy`,
        value: `${createRatio.toFixed(2)}x`,
        met: createRatio >= 0.8 / slack,
        rounds: createRatios,
      },
      {
        text: `${name} create added p50 ≤ ${(1.5 * slack).toFixed(2)}x the bare proxy's`,
        value: `${p50Ratio.toFixed(2)}x`,
        met: p50Ratio <= 1.5 * slack,
        rounds: p50Ratios,
      },
      {
        text: `${name} create added p99 ≤ ${(2 * slack).toFixed(1)} ms`,
        value: `${create.addedP99.toFixed(2)} ms`,
        met: create.addedP99 <= 2 * slack,
        rounds: create.rounds.map((r) => r.addedP99),
      },
      {
        text: `${name} finished-task read ≥ ${(0.7 / slack).toFixed(2)}x hello-world`,
        value: `${readRatio.toFixed(2)}x`,
        met: readRatio >= 0.7 / slack,
        rounds: readRatios,
      },
    );
  }
  const full = rss.tasks >= rssTarget;
  goals.push({
    text: `RSS ≤ 200 MB after ${rssTarget} tasks (SQLite)`,
    value: `${rss.afterMb.toFixed(0)} MB after ${rss.tasks} tasks`,
    met: full ? rss.afterMb <= 200 : undefined,
  });
  return goals;
}

/** Not goals: genway's create beside the proxy that writes the job before and after too. */
function durableRows(
  name: string,
  c: Figure,
  durable: Figure | undefined,
): [string, string, string, string][] {
  if (!durable) return [];
  return [
    [
      `${name} create added p50 (ms)`,
      ms(c.addedP50),
      `${ms(durable.addedP50)} durable proxy`,
      ratio(c, durable, 'addedP50'),
    ],
    [
      `${name} create req/s`,
      rate(c.rate),
      `${rate(durable.rate)} durable proxy`,
      ratio(c, durable, 'rate'),
    ],
  ];
}

export function renderSpeedReport(r: {
  header: string;
  figures: Figures;
  rss: RssFigure;
  rssTarget: number;
  goals: Goal[];
  notes: string[];
  seconds: number;
}): string[] {
  const f = r.figures;
  const row = (cells: string[], widths: number[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
  const w1 = [46, 7, 7, 9, 9, 8];
  const table = [
    row(['target', 'p50 ms', 'p99 ms', 'added p50', 'added p99', 'req/s'], w1),
    '-'.repeat(w1.reduce((a, b) => a + b + 3, -3)),
    ...Object.keys(LABELS)
      .filter((k) => f[k])
      .map((k) => {
        const x = f[k]!;
        const added = CREATES.has(k);
        return row(
          [
            LABELS[k]!,
            ms(x.p50),
            ms(x.p99),
            added ? ms(x.addedP50) : '',
            added ? ms(x.addedP99) : '',
            rate(x.rate),
          ],
          w1,
        );
      }),
  ];
  const w2 = [40, 9, 30, 7];
  const compare = [
    row(['genway figure', 'genway', 'same-run baseline', 'ratio'], w2),
    '-'.repeat(w2.reduce((a, b) => a + b + 3, -3)),
  ];
  for (const store of ['sqlite', 'redis'] as const) {
    const c = f[`${store}Create`];
    const rd = f[`${store}Read`];
    if (!c || !rd) continue;
    const name = store === 'sqlite' ? 'SQLite' : 'Redis';
    const p = f.proxy!;
    const h = f.hello!;
    compare.push(
      row(
        [
          `${name} create added p50 (ms)`,
          ms(c.addedP50),
          `${ms(p.addedP50)} bare proxy`,
          ratio(c, p, 'addedP50'),
        ],
        w2,
      ),
      row(
        [
          `${name} create added p99 (ms)`,
          ms(c.addedP99),
          `${ms(p.addedP99)} bare proxy`,
          ratio(c, p, 'addedP99'),
        ],
        w2,
      ),
      row(
        [`${name} create req/s`, rate(c.rate), `${rate(p.rate)} bare proxy`, ratio(c, p, 'rate')],
        w2,
      ),
      ...durableRows(name, c, store === 'sqlite' ? f.proxySqlite : f.proxyRedis).map((cells) =>
        row(cells, w2),
      ),
      row(
        [`${name} read p50 (ms)`, ms(rd.p50), `${ms(h.p50)} hello-world`, ratio(rd, h, 'p50')],
        w2,
      ),
      row(
        [`${name} read p99 (ms)`, ms(rd.p99), `${ms(h.p99)} hello-world`, ratio(rd, h, 'p99')],
        w2,
      ),
      row(
        [`${name} read req/s`, rate(rd.rate), `${rate(h.rate)} hello-world`, ratio(rd, h, 'rate')],
        w2,
      ),
    );
    // Not goals: the same answer from Fastify alone, and from Fastify reading Redis.
    const same = store === 'sqlite' ? f.helloTask : f.redisBaseline;
    if (same) {
      const label = store === 'sqlite' ? 'hello, task JSON' : 'Fastify + HMGET';
      compare.push(
        row(
          [
            `${name} read req/s`,
            rate(rd.rate),
            `${rate(same.rate)} ${label}`,
            ratio(rd, same, 'rate'),
          ],
          w2,
        ),
      );
    }
  }
  const m = f.sqliteCreateMedia;
  if (m && f.proxy) {
    // Not a goal: the proxy stores nothing, this row shows what durable outputs cost.
    const p = f.proxy;
    compare.push(
      row(
        [
          'SQLite+media create added p50 (ms)',
          ms(m.addedP50),
          `${ms(p.addedP50)} bare proxy`,
          ratio(m, p, 'addedP50'),
        ],
        w2,
      ),
      row(
        [
          'SQLite+media create req/s',
          rate(m.rate),
          `${rate(p.rate)} bare proxy`,
          ratio(m, p, 'rate'),
        ],
        w2,
      ),
    );
  }
  const verdict = (m: boolean | undefined) => (m === undefined ? 'n/a' : m ? 'met' : 'NOT met');
  return [
    r.header,
    '',
    ...table,
    '',
    ...compare,
    '',
    `RSS, genway SQLite (no media storage, MALLOC_ARENA_MAX=2 as in the container image), fresh process: ${r.rss.idleMb.toFixed(0)} MB idle; ${r.rss.afterMb.toFixed(0)} MB after creating ${r.rss.tasks} tasks in ${r.rss.seconds.toFixed(0)} s (target ${r.rssTarget}; peak ${r.rss.peakMb.toFixed(0)} MB)`,
    `JS heap in use after a full GC (what it keeps; the RSS also holds garbage not yet collected): ${r.rss.idleHeapMb.toFixed(1)} MB idle, ${r.rss.afterHeapMb.toFixed(1)} MB after the tasks`,
    '',
    'Goals (issue 16):',
    ...r.goals.map(
      (g) =>
        `  [${verdict(g.met)}] ${g.text}: ${g.value}${g.rounds ? ` (rounds: ${g.rounds.map((v) => v.toFixed(2)).join(' ')})` : ''}`,
    ),
    ...r.notes,
    `Total time: ${r.seconds} s`,
  ];
}
