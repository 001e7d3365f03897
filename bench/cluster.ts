import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../src/emulators/modelslab/server.js';
import { startReplicateEmulator } from '../src/emulators/replicate/server.js';
import { startPrivateRedis } from '../test/helpers/private-redis.js';
import { clientAgent, mapLimit, percentile, sleep, type Child } from './lib.js';

/**
 * The cluster rows of `npm run bench`: genway on Redis with 1 and with 3 instances (child
 * processes on a private redis-server, loopback), beside SQLite:
 * - upstream polls per task (tasks created round-robin over the instances);
 * - wake latency: a long-poll on one instance, the change (a cancel) written by another;
 * - create and read throughput of one instance on Redis and on SQLite.
 */

const KEY = 'gw_bench_cluster_key_0123456789';
const ML_KEY = 'ml-bench-cluster-key-0123456789';
const R8_TOKEN = 'r8_bench_cluster_token_0123';
const TASKS = 30;
const WAKES = 20;
const CREATES = 300;
const READ_MS = 2000;

type Json = Record<string, unknown>;
type Spawn = (file: string, env: Record<string, string>) => Promise<Child>;

interface Instances {
  urls: string[];
  kill(): void;
}

async function api(url: string, method: string, path: string, body?: Json) {
  const res = await request(`${url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
    dispatcher: clientAgent,
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: (text ? JSON.parse(text) : {}) as Json };
}

async function finished(url: string, id: string): Promise<Json> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(50)) {
    const { body } = await api(url, 'GET', `/v1/tasks/${id}?wait=5`);
    if (['succeeded', 'failed', 'canceled'].includes(body.status as string)) return body;
  }
  throw new Error(`task ${id} did not finish`);
}

async function pollsPerTask(ml: ModelslabEmulator, gw: Instances): Promise<number> {
  const ids = await mapLimit(
    Array.from({ length: TASKS }, (_, i) => i),
    10,
    async (i) => {
      ml.scriptNext({ processing: 4, eta: 0 });
      const { body } = await api(gw.urls[i % gw.urls.length]!, 'POST', '/v1/text-to-image', {
        model: 'modelslab/sdxl',
        prompt: `bench ${i}`,
      });
      if (typeof body.id !== 'string') throw new Error(`create: ${JSON.stringify(body)}`);
      return body.id;
    },
  );
  const done = await mapLimit(ids, 10, (id) => finished(gw.urls[0]!, id));
  const fetches = done.map((t) => {
    const upstreamId = String((t.upstream as Json).id);
    return ml.calls.filter((c) => {
      if (!c.path.includes('/fetch')) return false;
      const body = c.body as Json | undefined;
      return c.path.endsWith(`/fetch/${upstreamId}`) || String(body?.request_id) === upstreamId;
    }).length;
  });
  return fetches.reduce((a, b) => a + b, 0) / fetches.length;
}

async function wakeLatency(gw: Instances): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  const [writer, reader] = [gw.urls[0]!, gw.urls[gw.urls.length - 1]!];
  for (let i = 0; i < WAKES; i++) {
    const { body } = await api(writer, 'POST', '/v1/text-to-image', {
      model: 'replicate/black-forest-labs/flux-schnell',
      prompt: `wake ${i}`,
    });
    const id = body.id as string;
    // The first poll is a second away (Replicate image interval): nothing else changes it.
    await sleep(150);
    const waiting = api(reader, 'GET', `/v1/tasks/${id}?wait=20`).then(() => performance.now());
    await sleep(100);
    await api(writer, 'POST', `/v1/tasks/${id}/cancel`);
    const cancelledAt = performance.now();
    samples.push(Math.max(0, (await waiting) - cancelledAt));
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function throughput(url: string): Promise<{ creates: number; reads: number }> {
  const began = performance.now();
  const ids = await mapLimit(
    Array.from({ length: CREATES }, (_, i) => i),
    20,
    async (i) =>
      (await api(url, 'POST', '/v1/text-to-image', { model: 'modelslab/sdxl', prompt: `t ${i}` }))
        .body.id as string,
  );
  const creates = CREATES / ((performance.now() - began) / 1000);
  let reads = 0;
  const until = performance.now() + READ_MS;
  await mapLimit(
    Array.from({ length: 50 }, (_, i) => i),
    50,
    async (i) => {
      for (let n = i; performance.now() < until; n++) {
        await api(url, 'GET', `/v1/tasks/${ids[n % ids.length]}`);
        reads++;
      }
    },
  );
  return { creates, reads: reads / (READ_MS / 1000) };
}

/** Runs the cluster measurements; returns the lines of its table. */
export async function measureCluster(spawn: Spawn, log: (m: string) => void): Promise<string[]> {
  const redis = await startPrivateRedis();
  const ml = await startModelslabEmulator({ apiKeys: [ML_KEY], queueLimit: 100_000 });
  const r8 = await startReplicateEmulator({
    tokens: [R8_TOKEN],
    pollsProcessing: 1_000_000,
    // The adapter's `Prefer: wait=5` on creates holds 5 ms, not 5 s.
    timeScale: 0.001,
  });
  const dir = mkdtempSync(join(tmpdir(), 'genway-bench-cluster-'));
  let run = 0;
  const start = async (count: number, storeUrl: string): Promise<Instances> => {
    const prefix = `bench${++run}:`;
    const env = {
      GATEWAY_API_KEYS: KEY,
      STORE_URL: storeUrl,
      REDIS_KEY_PREFIX: prefix,
      MODELSLAB_BASE_URL: ml.url,
      MODELSLAB_API_KEYS: ML_KEY,
      REPLICATE_BASE_URL: r8.baseUrl,
      REPLICATE_API_TOKEN: R8_TOKEN,
      POLL_INTERVAL_MS: '100',
      POLL_MAX_INTERVAL_MS: '300',
      MODELSLAB_MAX_IN_FLIGHT: '100000',
      REPLICATE_MAX_IN_FLIGHT: '100000',
      RATE_LIMIT_MAX: '0',
      // The private Redis runs without AOF on purpose: no start-up warning about it here.
      LOG_LEVEL: 'error',
    };
    const children = await Promise.all(
      Array.from({ length: count }, () => spawn('./gateway-child.ts', env)),
    );
    return {
      urls: children.map((c) => `http://127.0.0.1:${c.port}`),
      kill: () => children.forEach((c) => c.kill()),
    };
  };
  const fmt = (v: number, digits = 1) => v.toFixed(digits);
  try {
    const rows: string[] = [];
    for (const count of [1, 3]) {
      log(`cluster: ${count} instance(s) on Redis`);
      const gw = await start(count, redis.url);
      try {
        const polls = await pollsPerTask(ml, gw);
        log(`cluster: wake latency, ${count} instance(s)`);
        const wake = await wakeLatency(gw);
        rows.push(
          `Redis, ${count} instance${count > 1 ? 's' : ' '}`.padEnd(22) +
            `| ${fmt(polls).padStart(10)}   | ${fmt(wake.p50).padStart(8)} ${fmt(wake.p99).padStart(8)}`,
        );
      } finally {
        gw.kill();
      }
    }
    const speeds: string[] = [];
    for (const [name, url] of [
      ['SQLite', `sqlite:${join(dir, 'bench.db')}`],
      ['Redis', redis.url],
    ] as const) {
      log(`throughput: one instance on ${name}`);
      const gw = await start(1, url);
      try {
        const t = await throughput(gw.urls[0]!);
        speeds.push(
          `${name}`.padEnd(22) +
            `| ${fmt(t.creates, 0).padStart(10)}   | ${fmt(t.reads, 0).padStart(10)}`,
        );
      } finally {
        gw.kill();
      }
    }
    return [
      '',
      `Cluster mode (private redis-server; ${TASKS} tasks of 5 upstream answers; wake = long-poll on the last instance, cancel written by the first; ${WAKES} samples):`,
      'setup                 | polls/task   | wake p50 (ms) p99',
      '-'.repeat(58),
      ...rows,
      '',
      `Throughput of one instance (${CREATES} creates, 20 at a time; then reads of those tasks, 50 at a time, ${READ_MS / 1000} s):`,
      'store                 | creates/s    | reads/s',
      '-'.repeat(50),
      ...speeds,
    ];
  } finally {
    await ml.close();
    await r8.close();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
