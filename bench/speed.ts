import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import {
  deleteRedisKeys,
  prepareChild,
  sleep,
  startChild,
  type Child,
  type ChildEntry,
} from './lib.js';
import { checkGoals, renderSpeedReport, type Figures, type Measure } from './speed-report.js';
import {
  MODELSLAB_KEY,
  PROMPT,
  createBody,
  finishedTask,
  genwayCreate,
  genwayEnv,
  genwayRead,
  answerText,
  median,
  proxyCreate,
  sequentialLatencies,
  summarise,
  throughput,
  type HttpTarget,
} from './speed-client.js';

/**
 * `npm run bench -- speed`: the hot paths beside what one Node hop allows, all on loopback and
 * all measured in the same run (architecture §10, issue 16):
 * - genway create (`POST /v1/text-to-image`, `Prefer: wait`, a ModelsLab stub answering at
 *   once: modelslab-child.ts) and the read of a finished task (`GET /v1/tasks/{id}`), with the
 *   SQLite store and with Redis (127.0.0.1:6379, a random key prefix removed afterwards;
 *   skipped when Redis does not answer);
 * - a bare Fastify + undici proxy forwarding the same create to the same upstream, a Fastify
 *   hello-world, and the upstream called directly;
 * - beside genway's figures, not in the goals (speed-baseline-child.ts): the proxy that also
 *   writes the job durably before the upstream call and after it (SQLite; with Redis, a Redis
 *   hash), the hello-world answering the same task JSON as genway's read, and (with Redis)
 *   that JSON read from a Redis hash on every request: what durability, the answer's size and
 *   a store round trip cost by themselves.
 * - genway create with media storage on (`MEDIA_STORE_URL=file:` in the run's temporary
 *   folder), in a row of its own. The main genway rows run with `MEDIA_STORE_URL=none` so that
 *   they do the bare proxy's work (one upstream call); with media storage a create also
 *   downloads the output and writes it to disk before announcing the success (architecture §9),
 *   work the proxy does not do: that row shows its cost and is not one of the goals.
 * Each target runs as a child process, and each round starts its processes afresh (see
 * startRound) and warms them up (300 sequential requests and WARM_UP_SECONDS of load each).
 * Sequential latency through one keep-alive connection (node:http, so the client adds little;
 * "added" = through the server minus direct to the upstream, in the same round), then
 * autocannon c=50 throughput. ROUNDS alternating rounds; figures are medians, a ratio to a
 * baseline the median of the rounds' ratios. Then genway's RSS (SQLite) after creating
 * BENCH_RSS_TASKS tasks (bounded in time).
 *
 * Knobs (environment): BENCH_ROUNDS (5), BENCH_LATENCY_N (1000 requests per target and
 * round), BENCH_LATENCY_MAX_MS (10000, its bound), BENCH_SECONDS (3 s of autocannon per target
 * and round), BENCH_WARM_UP_SECONDS (3), BENCH_RSS_TASKS (100000), BENCH_RSS_SECONDS (120, the
 * bound on that phase).
 * Stops by itself; a watchdog ends it.
 */

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LATENCY_N = Number(process.env.BENCH_LATENCY_N ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const RSS_TASKS = Number(process.env.BENCH_RSS_TASKS ?? 100_000);
const RSS_SECONDS = Number(process.env.BENCH_RSS_SECONDS ?? 120);
/** The bound on one target's sequential latency run (a loaded machine is slow). */
const LATENCY_MAX_MS = Number(process.env.BENCH_LATENCY_MAX_MS ?? 10_000);
const CONNECTIONS = 50;
/**
 * Load on each fresh target before a round measures it: a fresh genway's create p50 settles
 * after about 5 s of load (its create and read targets are warmed one after the other).
 */
const WARM_UP_SECONDS = Number(process.env.BENCH_WARM_UP_SECONDS ?? 3);
// Twelve targets per round, each bounded (warm-up included), plus the round's start-up;
// doubled for a loaded machine.
const WATCHDOG_MS =
  2 *
  (ROUNDS * (12 * (SECONDS + WARM_UP_SECONDS + (2 * LATENCY_MAX_MS) / 1000 + 3) + 60) +
    RSS_SECONDS +
    60) *
  1000;

const children = new Set<Child>();
const cleanups: (() => Promise<void> | void)[] = [];
const watchdog = setTimeout(() => {
  process.stderr.write(`bench speed: still running after ${WATCHDOG_MS / 1000} s, giving up\n`);
  void cleanup().finally(() => process.exit(1));
}, WATCHDOG_MS);
watchdog.unref();

const startedAt = Date.now();
const log = (text: string) =>
  process.stderr.write(
    `bench speed [${((Date.now() - startedAt) / 1000).toFixed(1)} s]: ${text}\n`,
  );

const entries = new Map<string, Promise<ChildEntry>>();
async function child(file: string, env: Record<string, string>, nodeFlags: string[] = []) {
  let entry = entries.get(file);
  if (!entry) entries.set(file, (entry = prepareChild(new URL(file, import.meta.url))));
  const { file: url, execArgv } = await entry;
  const c = await startChild({ file: url, execArgv: [...execArgv, ...nodeFlags] }, env);
  children.add(c);
  return c;
}

async function redisAnswers(): Promise<boolean> {
  const redis = new Redis({
    host: '127.0.0.1',
    port: 6379,
    lazyConnect: true,
    connectTimeout: 1000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

type TargetName =
  | 'direct'
  | 'proxy'
  | 'proxySqlite'
  | 'hello'
  | 'helloTask'
  | 'sqliteCreate'
  | 'sqliteRead'
  | 'sqliteCreateMedia'
  | 'redisCreate'
  | 'redisRead'
  | 'proxyRedis'
  | 'redisBaseline';

/**
 * The order of a round (reversed every other round): each genway target right after its
 * baselines, so that a round's ratios compare figures taken moments apart.
 */
const MEASURED_IN_ORDER: TargetName[] = [
  'direct',
  'proxy',
  'sqliteCreate',
  'redisCreate',
  'proxySqlite',
  'proxyRedis',
  'sqliteCreateMedia',
  'hello',
  'sqliteRead',
  'redisRead',
  'helloTask',
  'redisBaseline',
];

/** RSS of a fresh genway (SQLite) after creating up to RSS_TASKS tasks, bounded in time. */
async function rssAfterTasks(upstream: Child, dir: string) {
  await upstream.call('reset');
  // --expose-gc: the child's `memory` answer runs a full GC first (see gateway-child.ts).
  const gw = await child(
    './gateway-child.ts',
    genwayEnv(upstream.port, { STORE_URL: `sqlite:${join(dir, 'rss.db')}` }),
    ['--expose-gc'],
  );
  /** The JS heap still referenced (after a full GC): what the process keeps, garbage aside. */
  const heapKeptMb = async () => (await gw.call<NodeJS.MemoryUsage>('memory')).heapUsed / 2 ** 20;
  try {
    const idleMb = (await gw.rss()) / 2 ** 20;
    const idleHeapMb = await heapKeptMb();
    const t = genwayCreate(gw.port, false);
    const run = autocannon({
      url: `http://127.0.0.1:${t.port}${t.path}`,
      connections: 64,
      amount: RSS_TASKS,
      method: t.method,
      headers: t.headers,
      body: createBody,
    });
    const bound = setTimeout(() => run.stop(), RSS_SECONDS * 1000);
    let peak = 0;
    const sampler = setInterval(() => void gw.rss().then((r) => (peak = Math.max(peak, r))), 500);
    const result = await run;
    clearTimeout(bound);
    clearInterval(sampler);
    await sleep(1000);
    const afterMb = (await gw.rss()) / 2 ** 20;
    return {
      tasks: result['2xx'],
      seconds: result.duration,
      idleMb,
      afterMb,
      peakMb: Math.max(peak / 2 ** 20, afterMb),
      idleHeapMb,
      afterHeapMb: await heapKeptMb(),
    };
  } finally {
    gw.kill();
    children.delete(gw);
  }
}

interface Round {
  upstream: Child;
  targets: Map<TargetName, HttpTarget>;
  /** Ends the round's processes. */
  stop(): void;
}

/**
 * Every process a round measures, started fresh: two genway processes of one build, started
 * side by side and loaded in turns, kept an 18 to 27 % gap in read throughput for as long as
 * they ran (in four pairs out of four; a later set of three stayed within 10 %), so figures
 * taken from one set of processes would rest on that set's luck. The medians span processes.
 */
async function startRound(dir: string, round: number, redisPrefix: string | undefined) {
  const started: Child[] = [];
  const start = async (file: string, env: Record<string, string>) => {
    const c = await child(file, env);
    started.push(c);
    return c;
  };
  const stop = () => {
    for (const c of started) {
      c.kill();
      children.delete(c);
    }
  };
  try {
    const upstream = await start('./modelslab-child.ts', { BENCH_MODELSLAB_KEY: MODELSLAB_KEY });
    const sqlite = await start(
      './gateway-child.ts',
      genwayEnv(upstream.port, { STORE_URL: `sqlite:${join(dir, `bench-${round}.db`)}` }),
    );
    const sqliteMedia = await start(
      './gateway-child.ts',
      genwayEnv(upstream.port, {
        STORE_URL: `sqlite:${join(dir, `bench-media-${round}.db`)}`,
        MEDIA_STORE_URL: `file:${join(dir, `media-${round}`)}`,
      }),
    );
    const sqliteRead = genwayRead(sqlite.port, await finishedTask(sqlite.port));
    // A key prefix per round: a round's genway never finds an earlier round's instance state.
    const prefix = redisPrefix && `${redisPrefix}r${round}:`;
    const baseline = await start('./speed-baseline-child.ts', {
      BENCH_UPSTREAM_URL: `http://127.0.0.1:${upstream.port}`,
      BENCH_MODELSLAB_KEY: MODELSLAB_KEY,
      BENCH_TASK_JSON: await answerText(sqliteRead),
      BENCH_SQLITE_PATH: join(dir, `baseline-${round}.db`),
      ...(prefix ? { BENCH_REDIS_PREFIX: prefix } : {}),
    });
    const proxy = proxyCreate(baseline.port);
    const baselineGet = (path: string): HttpTarget => ({
      port: baseline.port,
      method: 'GET',
      path,
      headers: {},
      status: 200,
    });
    const targets = new Map<TargetName, HttpTarget>([
      [
        'direct',
        {
          port: upstream.port,
          method: 'POST',
          path: '/api/v1/enterprise/text2img',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key: MODELSLAB_KEY, prompt: PROMPT }),
          status: 200,
        },
      ],
      ['proxy', proxy],
      ['proxySqlite', { ...proxy, path: '/proxy-sqlite' }],
      ['hello', baselineGet('/hello')],
      ['helloTask', baselineGet('/hello-task')],
      ['sqliteCreate', genwayCreate(sqlite.port)],
      ['sqliteRead', sqliteRead],
      ['sqliteCreateMedia', genwayCreate(sqliteMedia.port)],
    ]);
    if (prefix) {
      const redis = await start(
        './gateway-child.ts',
        genwayEnv(upstream.port, { STORE_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix }),
      );
      targets.set('redisCreate', genwayCreate(redis.port));
      targets.set('redisRead', genwayRead(redis.port, await finishedTask(redis.port)));
      targets.set('proxyRedis', { ...proxy, path: '/proxy-redis' });
      targets.set('redisBaseline', baselineGet('/redis-task'));
    }
    return { upstream, targets, stop } satisfies Round;
  } catch (err) {
    stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'genway-bench-speed-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const withRedis = await redisAnswers();
  const prefix = `genway-bench-${randomBytes(6).toString('hex')}:`;
  let redisNote = '';
  if (withRedis) {
    cleanups.push(async () => {
      log(`removed ${await deleteRedisKeys(prefix)} Redis keys under ${prefix}`);
    });
  } else {
    redisNote = 'Redis: SKIPPED, nothing answered on 127.0.0.1:6379';
    log(redisNote);
  }

  const latencies = new Map<TargetName, { p50: number; p99: number }[]>();
  const rates = new Map<TargetName, number[]>();
  /** The fewest latency samples a target had in a round (the time bound may cut a run). */
  const samples = new Map<TargetName, number>();
  for (let round = 0; round < ROUNDS; round++) {
    const { upstream, targets, stop } = await startRound(
      dir,
      round,
      withRedis ? prefix : undefined,
    );
    try {
      log(`round ${round + 1}/${ROUNDS}: fresh processes started; warm-up`);
      for (const t of targets.values()) {
        await sequentialLatencies(t, 300, 3000);
        await throughput(t, WARM_UP_SECONDS, CONNECTIONS);
      }
      const order = MEASURED_IN_ORDER.filter((name) => targets.has(name));
      if (round % 2 === 1) order.reverse();
      for (const name of order) {
        await upstream.call('reset');
        const sorted = await sequentialLatencies(targets.get(name)!, LATENCY_N, LATENCY_MAX_MS);
        samples.set(name, Math.min(samples.get(name) ?? Infinity, sorted.length));
        const one = summarise(sorted);
        latencies.set(name, [...(latencies.get(name) ?? []), one]);
      }
      for (const name of order) {
        await upstream.call('reset');
        rates.set(name, [
          ...(rates.get(name) ?? []),
          await throughput(targets.get(name)!, SECONDS, CONNECTIONS, (p) => log(`  ${p}`)),
        ]);
      }
    } finally {
      stop();
    }
    log(`round ${round + 1}/${ROUNDS} done`);
  }

  log(`RSS: creating up to ${RSS_TASKS} tasks on a fresh genway (SQLite)`);
  const upstream = await child('./modelslab-child.ts', { BENCH_MODELSLAB_KEY: MODELSLAB_KEY });
  const rss = await rssAfterTasks(upstream, dir);

  // Per round, added latency = through the server minus direct in that round; then medians.
  const direct = latencies.get('direct')!;
  const figures: Figures = {};
  for (const [name, latency] of latencies) {
    const rounds = latency.map((r, i) => ({
      ...r,
      addedP50: r.p50 - direct[i]!.p50,
      addedP99: r.p99 - direct[i]!.p99,
      rate: rates.get(name)![i]!,
    }));
    const medianOf = (key: keyof Measure) => median(rounds.map((r) => r[key]));
    figures[name] = {
      p50: medianOf('p50'),
      p99: medianOf('p99'),
      addedP50: medianOf('addedP50'),
      addedP99: medianOf('addedP99'),
      rate: medianOf('rate'),
      rounds,
    };
  }
  const loadAvg = os.loadavg()[0]!;
  const lines = renderSpeedReport({
    header: `genway speed bench: loopback, ${os.cpus().length} cores, node ${process.version}, load average ${loadAvg.toFixed(1)} at the end; ${ROUNDS} alternating rounds, each on freshly started processes (figures: medians; ratios: medians of the per-round ratios); latency: ${LATENCY_N} sequential requests on one keep-alive connection; throughput: autocannon c=${CONNECTIONS}, ${SECONDS} s; genway rows without media storage (MEDIA_STORE_URL=none: one upstream call, the proxy's work) unless the row says "media storage (file:)" (also downloads and writes each output before the success)`,
    figures,
    rss,
    rssTarget: RSS_TASKS,
    goals: checkGoals(figures, rss, RSS_TASKS),
    notes: [
      ...(redisNote ? [redisNote] : []),
      `Latency samples per target and round (fewest): ${[...samples].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    ],
    seconds: Math.round((Date.now() - startedAt) / 1000),
  });
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function cleanup(): Promise<void> {
  for (const c of children) c.kill();
  children.clear();
  for (const fn of cleanups) await fn();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench speed: ${signal}, cleaning up\n`);
    void cleanup().finally(() => process.exit(1));
  });
}

main().then(
  async () => {
    await cleanup();
    process.exit(0);
  },
  async (err: unknown) => {
    process.stderr.write(`bench speed failed: ${String((err as Error)?.stack ?? err)}\n`);
    await cleanup().catch(() => undefined);
    process.exit(1);
  },
);
