import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Pool } from 'undici';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { CredentialPool } from '../src/domain/credential-pool.js';
import { UpstreamClient } from '../src/providers/http-client.js';
import { MemoryTaskStore } from '../src/store/memory-store.js';
import { RedisTaskStore } from '../src/store/redis-store.js';
import { SqliteTaskStore } from '../src/store/sqlite-store.js';
import { forwardCreate } from './bare-proxy.js';
import { deleteRedisKeys, percentile, prepareChild, startChild, type Child } from './lib.js';
import {
  MODELSLAB_KEY,
  genwayCreate,
  genwayEnv,
  median,
  proxyCreate,
  sequentialLatencies,
  type HttpTarget,
} from './speed-client.js';

/**
 * `npm run bench -- phases`: where a create's time goes inside the server. Sequential creates
 * (`POST /v1/text-to-image`, `Prefer: wait`, the ModelsLab stub answering at once, in its own
 * process: modelslab-child.ts) on one keep-alive connection, with each store, and the same
 * through a bare Fastify + undici proxy; the servers run in this process, their methods wrapped
 * to time each phase of every request: the store's writes before the upstream call (credential
 * slot, task insert), the upstream exchange, the store's writes after it (the final update),
 * and the rest (HTTP parsing, authentication, validation, the domain's own work, serialization).
 * Prints the median of each over BENCH_PHASES_N requests (2000), and the 99th percentile of
 * each request's time in the server outside the upstream call: what the server itself adds at
 * the tail, which the speed benchmark's added p99 (a difference of two tails, the upstream's
 * own included) can only bound. Figures run a little slower than the speed benchmark's
 * (TypeScript through tsx, wrapped methods); read the shares.
 */
const N = Number(process.env.BENCH_PHASES_N ?? 2000);
const watchdog = setTimeout(() => {
  process.stderr.write('bench phases: watchdog fired, giving up\n');
  process.exit(1);
}, 300_000);
watchdog.unref();

type Phase = 'before' | 'upstream' | 'after';
/** Time spent in each phase by the request under way (one at a time). */
let spent: Record<Phase, number> = { before: 0, upstream: 0, after: 0 };
let upstreamDone = false;

/** Adds the time of every call of `proto[name]` to the phase it belongs to. */
function timed(proto: object, name: string, phase: Phase | 'store'): void {
  const methods = proto as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = methods[name];
  if (!original) return;
  methods[name] = async function (this: unknown, ...args: unknown[]) {
    const started = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      const p = phase === 'store' ? (upstreamDone ? 'after' : 'before') : phase;
      spent[p] += performance.now() - started;
      if (phase === 'upstream') upstreamDone = true;
    }
  };
}
for (const store of [MemoryTaskStore, SqliteTaskStore, RedisTaskStore]) {
  for (const name of ['insert', 'insertWithinCap', 'update', 'updateAndSettle']) {
    timed(store.prototype, name, 'store');
  }
}
// The cluster-mode slot reservation (a Redis round trip), before the insert.
timed(CredentialPool.prototype, 'reserve', 'before');
timed(UpstreamClient.prototype, 'exchange', 'upstream');

interface Row {
  server: number;
  before: number;
  upstream: number;
  after: number;
}

/** The medians of a row's phases, and the 99th percentile of the time outside the call. */
interface Summary extends Row {
  outsideP99: number;
}

/** `N` sequential requests to `target` on a server of this process: medians of each phase. */
async function measure(
  server: Server,
  target: HttpTarget,
  timeUpstreamOf?: () => number,
): Promise<Summary> {
  const rows: Row[] = [];
  let recording = false;
  server.prependListener('request', (_req, res) => {
    const started = performance.now();
    spent = { before: 0, upstream: 0, after: 0 };
    upstreamDone = false;
    res.once('finish', () => {
      if (!recording) return;
      const upstream = timeUpstreamOf ? timeUpstreamOf() : spent.upstream;
      rows.push({ server: performance.now() - started, ...spent, upstream });
    });
  });
  await sequentialLatencies(target, 300);
  recording = true;
  await sequentialLatencies(target, N);
  recording = false;
  const m = (k: keyof Row) => median(rows.map((r) => r[k]));
  // The end-to-end added p99 is the difference of two tails that the upstream's own and the
  // machine's noise dominate; this one is the server's own time, request by request.
  const outside = rows.map((r) => r.server - r.upstream).sort((a, b) => a - b);
  return {
    server: m('server'),
    before: m('before'),
    upstream: m('upstream'),
    after: m('after'),
    outsideP99: percentile(outside, 99),
  };
}

/** Starts `app` on a free port of 127.0.0.1: that port. */
async function listenOnLoopback(app: FastifyInstance): Promise<number> {
  return Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port);
}

async function genway(upstream: Child, store: Record<string, string>): Promise<Summary> {
  const app = await buildApp(loadConfig(genwayEnv(upstream.port, store)));
  const port = await listenOnLoopback(app);
  try {
    return await measure(app.server, genwayCreate(port));
  } finally {
    await app.close();
  }
}

async function proxy(upstream: Child): Promise<Summary> {
  const pool = new Pool(`http://127.0.0.1:${upstream.port}`, { connections: 128 });
  let upstreamMs = 0;
  const app = Fastify({ logger: false });
  app.post('/proxy', async (request, reply) => {
    const started = performance.now();
    const { status, answer } = await forwardCreate(pool, request.body, MODELSLAB_KEY);
    upstreamMs = performance.now() - started;
    return reply.code(status).send(answer);
  });
  const port = await listenOnLoopback(app);
  try {
    return await measure(app.server, proxyCreate(port), () => upstreamMs);
  } finally {
    await app.close();
    await pool.close();
  }
}

const dir = mkdtempSync(join(os.tmpdir(), 'genway-bench-phases-'));
const upstream = await startChild(
  await prepareChild(new URL('./modelslab-child.ts', import.meta.url)),
  { BENCH_MODELSLAB_KEY: MODELSLAB_KEY },
);
const results: [string, Summary][] = [];
try {
  results.push(['bare Fastify + undici proxy', await proxy(upstream)]);
  results.push(['genway, memory store', await genway(upstream, { STORE_URL: 'memory:' })]);
  results.push([
    'genway, SQLite',
    await genway(upstream, { STORE_URL: `sqlite:${join(dir, 'phases.db')}` }),
  ]);
  const prefix = `genway-phases-${randomBytes(6).toString('hex')}:`;
  try {
    results.push([
      'genway, Redis (cluster mode)',
      await genway(upstream, { STORE_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix }),
    ]);
  } catch (err) {
    process.stderr.write(`bench phases: Redis row skipped (${(err as Error).message})\n`);
  } finally {
    await deleteRedisKeys(prefix).catch(() => 0);
  }
} finally {
  upstream.kill();
  rmSync(dir, { recursive: true, force: true });
}

const f = (v: number) => v.toFixed(3).padStart(9);
process.stdout.write(
  `\ngenway create phases: ${N} sequential creates per row, medians (ms) of the time in the server\n\n` +
    `${'server'.padStart(39)} | store before | upstream call | store after |     rest | outside the call, p99\n`,
);
for (const [label, r] of results) {
  const rest = r.server - r.before - r.upstream - r.after;
  process.stdout.write(
    `${label.padEnd(30)}${f(r.server)} |    ${f(r.before)} |     ${f(r.upstream)} |   ${f(r.after)} | ${f(rest)} | ${f(r.outsideP99)}\n`,
  );
}
process.exit(0);
