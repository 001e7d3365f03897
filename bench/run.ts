import { setMaxListeners } from 'node:events';
import os from 'node:os';
import { request } from 'undici';
import { measureCluster } from './cluster.js';
import {
  clientAgent,
  longPollClient,
  mapLimit,
  nowMs,
  percentile,
  sampleRss,
  sleep,
  sseClient,
  startChild,
  prepareChild,
  type Child,
  type ChildEntry,
} from './lib.js';

/**
 * `npm run bench`: N clients waiting on ONE running task (N = 1, 100, 1000) and 1000 clients
 * on 1000 different tasks, by long-poll (`GET /v1/tasks/{id}?wait=30`) and by SSE
 * (`GET /v1/tasks/{id}/events`). genway runs as a child process against the Haiper emulator
 * (another child process, behind a recording proxy that stamps each upstream answer); this
 * process runs the clients only. Every task is long-running and changes (rising progress) on
 * every upstream poll.
 *
 * For each scenario, beside its baseline measured in the same run:
 * - upstream polls per task in the window; baseline: the same N clients polling the upstream
 *   directly at the same interval (actually run against the emulator);
 * - latency from the upstream answer carrying a change to each client's notification
 *   (p50/p99); baseline: a bare node:http server (child process) holding the same N
 *   long-polls / streams, notified from an in-process EventEmitter at the same interval;
 * - the process RSS (largest sample in the window) of genway vs. that bare server.
 *
 * Loopback only; bounded in time (about 2 minutes); stops by itself.
 */

const INTERVAL_MS = 1000;
const WINDOW_MS = 4000;
const SETTLE_MS = 500;
const GATEWAY_KEY = 'gw_bench_key_0123456789abcdef';
const ACCESS_KEY = 'haiper-bench-access-key-0123456789';
const WATCHDOG_MS = 420_000;

type Mode = 'long-poll' | 'SSE';
interface Scenario {
  mode: Mode;
  clients: number;
  tasks: number;
}
interface Measured {
  pollsPerTask: number;
  p50: number;
  p99: number;
  samples: number;
  rssMb: number;
  /** CPU used by the server process in the window, % of one core. */
  cpuPct: number;
}

const SCENARIOS: Scenario[] = [
  { mode: 'long-poll', clients: 1, tasks: 1 },
  { mode: 'long-poll', clients: 100, tasks: 1 },
  { mode: 'long-poll', clients: 1000, tasks: 1 },
  { mode: 'long-poll', clients: 1000, tasks: 1000 },
  { mode: 'SSE', clients: 1, tasks: 1 },
  { mode: 'SSE', clients: 100, tasks: 1 },
  { mode: 'SSE', clients: 1000, tasks: 1 },
  { mode: 'SSE', clients: 1000, tasks: 1000 },
];

// BENCH_ONLY=SSE:1000:1000 (mode:clients:tasks, comma-separated) runs only those scenarios.
const only = process.env.BENCH_ONLY?.split(',').map((x) => x.trim().toLowerCase());
const selected = SCENARIOS.filter(
  (s) => !only || only.includes(`${s.mode}:${s.clients}:${s.tasks}`.toLowerCase()),
);

const children = new Set<Child>();
const watchdog = setTimeout(() => {
  process.stderr.write(`bench: still running after ${WATCHDOG_MS / 1000} s, giving up\n`);
  for (const c of children) c.kill();
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

const startedAt = Date.now();
const log = (text: string) =>
  process.stderr.write(`bench [${((Date.now() - startedAt) / 1000).toFixed(1)} s]: ${text}\n`);

const entries = new Map<string, Promise<ChildEntry>>();

async function child(file: string, env: Record<string, string>): Promise<Child> {
  let entry = entries.get(file);
  if (!entry) entries.set(file, (entry = prepareChild(new URL(file, import.meta.url))));
  const c = await startChild(await entry, env);
  children.add(c);
  return c;
}

function stop(c: Child): void {
  c.kill();
  children.delete(c);
}

/** What the upstream child recorded for some tasks. */
interface Dump {
  polls: Map<string, number[]>;
  changes: Map<string, Map<number, number>>;
}

/** One notification a client got: the change it carries (key) and when it arrived. */
interface Notification<K> {
  key: K;
  at: number;
}

function latencySummary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), samples: sorted.length };
}

/**
 * Runs the scenario's clients against `urlOf(i)` and records their notifications for
 * WINDOW_MS after SETTLE_MS (and, for streams, once every client is connected).
 */
async function runClients<K>(
  s: Scenario,
  urlOf: (i: number) => string,
  headers: Record<string, string>,
  keyOf: (body: unknown) => K,
  target: Child,
) {
  const controller = new AbortController();
  // Every client of the scenario listens to it.
  setMaxListeners(0, controller.signal);
  let open = 0;
  let recording = false;
  const seen: Notification<K>[] = [];
  const onData = (body: unknown, at: number) => {
    if (recording) seen.push({ key: keyOf(body), at });
  };
  const running = Array.from({ length: s.clients }, (_, i) =>
    s.mode === 'long-poll'
      ? longPollClient(urlOf(i), headers, onData, controller.signal)
      : sseClient(urlOf(i), headers, onData, controller.signal, () => open++),
  );
  await sleep(SETTLE_MS);
  if (s.mode === 'SSE') {
    const deadline = Date.now() + 10_000;
    while (open < s.clients && Date.now() < deadline) await sleep(50);
  }
  const from = nowMs();
  recording = true;
  const cpuBefore = await target.cpu();
  const rss = sampleRss(target);
  await sleep(WINDOW_MS);
  const rssMax = await rss();
  const to = nowMs();
  const cpuPct = (((await target.cpu()) - cpuBefore) / (to - from)) * 100;
  recording = false;
  controller.abort();
  await Promise.all(running);
  log(`  window done, clients stopped`);
  return { from, to, seen, rssMb: rssMax / 2 ** 20, cpuPct };
}

/** Polls per task in [from, to]. */
function pollsPerTask(dump: Dump, from: number, to: number): number {
  let n = 0;
  for (const times of dump.polls.values()) for (const at of times) if (at >= from && at <= to) n++;
  return n / dump.polls.size;
}

async function createGatewayTasks(port: number, n: number): Promise<{ id: string; up: string }[]> {
  return mapLimit(Array.from({ length: n }), 32, async () => {
    const res = await request(`http://127.0.0.1:${port}/v1/text-to-video`, {
      method: 'POST',
      headers: { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'haiper', prompt: 'a lighthouse in a storm' }),
      dispatcher: clientAgent,
    });
    const task = (await res.body.json()) as { id: string; upstream: { id: string } };
    if (res.statusCode !== 201)
      throw new Error(`create: ${res.statusCode} ${JSON.stringify(task)}`);
    return { id: task.id, up: task.upstream.id };
  });
}

async function measureGenway(s: Scenario, upstream: Child): Promise<Measured> {
  await upstream.call('reset');
  const gw = await child('./gateway-child.ts', {
    GATEWAY_API_KEYS: GATEWAY_KEY,
    STORE_URL: 'memory:',
    LOG_LEVEL: 'warn',
    HAIPER_BASE_URL: `http://127.0.0.1:${upstream.port}/v1/ai`,
    HAIPER_ENDPOINT_PATH: upstream.info.endpointPath as string,
    HAIPER_ACCESS_KEY: ACCESS_KEY,
    HAIPER_MAX_IN_FLIGHT: '5000',
    // A fixed interval (no ageing) so that polls per task compare with the baseline.
    POLL_INTERVAL_MS: String(INTERVAL_MS),
    POLL_MAX_INTERVAL_MS: String(INTERVAL_MS),
    // 1000 tasks on one credential: above the default budget of 10 polls/s.
    POLL_BUDGET_PER_SECOND: '5000',
    // Thousands of requests per minute from one key: no per-tenant request limit.
    RATE_LIMIT_MAX: '0',
  });
  try {
    log(`  genway started; creating ${s.tasks} task(s)`);
    const tasks = await createGatewayTasks(gw.port, s.tasks);
    log('  tasks created; clients start');
    const base = `http://127.0.0.1:${gw.port}/v1/tasks`;
    const urlOf = (i: number) => {
      const id = tasks[i % tasks.length]!.id;
      return s.mode === 'long-poll' ? `${base}/${id}?wait=30` : `${base}/${id}/events`;
    };
    const keyOf = (body: unknown) => {
      const t = body as { progress: number; upstream: { id: string } };
      return { up: t.upstream.id, progress: t.progress };
    };
    const auth = { authorization: `Bearer ${GATEWAY_KEY}` };
    const r = await runClients(s, urlOf, auth, keyOf, gw);
    const dump = await upstream.call<Dump>('dump', { ids: tasks.map((t) => t.up) });
    const latencies: number[] = [];
    for (const n of r.seen) {
      const changedAt = dump.changes.get(n.key.up)?.get(n.key.progress);
      if (changedAt !== undefined && changedAt >= r.from && n.at <= r.to) {
        latencies.push(n.at - changedAt);
      }
    }
    return {
      pollsPerTask: pollsPerTask(dump, r.from, r.to),
      ...latencySummary(latencies),
      rssMb: r.rssMb,
      cpuPct: r.cpuPct,
    };
  } finally {
    stop(gw);
  }
}

/** The same scenario against the bare node:http + EventEmitter server. */
async function measureBaselineServer(s: Scenario): Promise<Omit<Measured, 'pollsPerTask'>> {
  const bare = await child('./baseline-child.ts', {
    BASE_KEYS: String(s.tasks),
    BASE_INTERVAL_MS: String(INTERVAL_MS),
  });
  try {
    const base = `http://127.0.0.1:${bare.port}`;
    const urlOf = (i: number) =>
      `${base}/${s.mode === 'long-poll' ? 'wait' : 'events'}/${i % s.tasks}`;
    const r = await runClients(s, urlOf, {}, (body) => (body as { t: number }).t, bare);
    const latencies = r.seen.filter((n) => n.key >= r.from).map((n) => n.at - n.key);
    return { ...latencySummary(latencies), rssMb: r.rssMb, cpuPct: r.cpuPct };
  } finally {
    stop(bare);
  }
}

/**
 * N clients polling the upstream directly, each waiting INTERVAL_MS after every answer:
 * polls per task in the window.
 */
async function measureDirectPolling(
  clients: number,
  taskCount: number,
  upstream: Child,
): Promise<number> {
  await upstream.call('reset');
  const api = `http://127.0.0.1:${upstream.port}/v1/ai/${upstream.info.endpointPath as string}/video`;
  const headers = { authorization: `Bearer ${ACCESS_KEY}`, 'content-type': 'application/json' };
  const ids = await mapLimit(Array.from({ length: taskCount }), 32, async () => {
    const res = await request(`${api}/generate`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ prompt: 'a lighthouse in a storm' }),
      dispatcher: clientAgent,
    });
    return ((await res.body.json()) as { taskId: string }).taskId;
  });
  const controller = new AbortController();
  // Every client of the scenario listens to it.
  setMaxListeners(0, controller.signal);
  const poller = async (i: number) => {
    await sleep(Math.random() * INTERVAL_MS);
    while (!controller.signal.aborted) {
      try {
        const res = await request(`${api}/tasks/${ids[i % taskCount]!}`, {
          headers,
          dispatcher: clientAgent,
          signal: controller.signal,
        });
        await res.body.dump();
      } catch {
        if (controller.signal.aborted) return;
      }
      // Like genway's poller (and most clients): the interval runs from the last answer.
      await sleep(INTERVAL_MS);
    }
  };
  const running = Array.from({ length: clients }, (_, i) => poller(i));
  await sleep(SETTLE_MS);
  const from = nowMs();
  await sleep(WINDOW_MS);
  const to = nowMs();
  controller.abort();
  await Promise.all(running);
  return pollsPerTask(await upstream.call<Dump>('dump', { ids }), from, to);
}

const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pad = (text: string, width: number) => text.padStart(width);

async function main(): Promise<void> {
  const upstream = await child('./upstream-child.ts', { BENCH_ACCESS_KEY: ACCESS_KEY });
  const direct = new Map<string, number>();
  const rows: { s: Scenario; gw: Measured; bl: Omit<Measured, 'pollsPerTask'>; dp: number }[] = [];
  let clusterLines: string[] = [];
  try {
    for (const s of selected) {
      const key = `${s.clients}/${s.tasks}`;
      if (!direct.has(key)) {
        log(`baseline: direct polling, ${key} clients/tasks`);
        direct.set(key, await measureDirectPolling(s.clients, s.tasks, upstream));
      }
      log(`genway: ${s.mode}, ${key} clients/tasks`);
      const gw = await measureGenway(s, upstream);
      log(`baseline: bare server, ${s.mode}, ${key} clients/tasks`);
      const bl = await measureBaselineServer(s);
      rows.push({ s, gw, bl, dp: direct.get(key)! });
    }
    // BENCH_ONLY=cluster runs the cluster rows alone; other BENCH_ONLY lists skip them.
    if (!only || only.includes('cluster')) clusterLines = await measureCluster(child, log);
  } finally {
    stop(upstream);
    await clientAgent.close();
  }

  const header = [
    'scenario                            ',
    '| upstream polls/task ',
    '| latency p50 (ms) ',
    '| latency p99 (ms) ',
    '| RSS (MB)        ',
    '| CPU (% of a core) ',
    '| samples',
  ].join('');
  const sub = [
    '                                    ',
    '|  genway  baseline   ',
    '| genway  baseline ',
    '| genway  baseline ',
    '| genway baseline ',
    '| genway  baseline  ',
    '| genway',
  ].join('');
  const lines = [
    `genway bench: loopback, ${os.cpus().length} cores, node ${process.version}; poll interval ${INTERVAL_MS} ms; window ${WINDOW_MS / 1000} s per scenario`,
    header,
    sub,
    '-'.repeat(header.length),
    ...rows.map(({ s, gw, bl, dp }) => {
      const name = `${s.mode}, ${s.clients} client${s.clients > 1 ? 's' : ''}, ${
        s.tasks === 1 ? 'one task' : `${s.tasks} tasks`
      }`;
      return [
        name.padEnd(36),
        `| ${pad(fmt(gw.pollsPerTask), 7)} ${pad(fmt(dp), 9)}   `,
        `| ${pad(fmt(gw.p50), 6)} ${pad(fmt(bl.p50), 8)}  `,
        `| ${pad(fmt(gw.p99), 6)} ${pad(fmt(bl.p99), 8)}  `,
        `| ${pad(fmt(gw.rssMb, 0), 6)} ${pad(fmt(bl.rssMb, 0), 7)}  `,
        `| ${pad(fmt(gw.cpuPct, 0), 6)} ${pad(fmt(bl.cpuPct, 0), 8)}   `,
        `| ${pad(String(gw.samples), 6)}`,
      ].join('');
    }),
    '',
    'Baselines, measured in this run:',
    '  polls/task: the same N clients polling the upstream directly every interval (no gateway);',
    '  latency, RSS, CPU: a bare node:http server (child process, like genway) holding the same N',
    '    long-polls / event streams, notified from an in-process EventEmitter at the same interval.',
    'Latency: from the upstream poll that produced a change (the time stamp the emulator gave it)',
    '  to the client having the notification; samples = notifications genway delivered in the window.',
    ...clusterLines,
    `Total time: ${Math.round((Date.now() - startedAt) / 1000)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${String((err as Error)?.stack ?? err)}\n`);
    for (const c of children) c.kill();
    process.exit(1);
  },
);
