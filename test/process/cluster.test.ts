import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
} from '../../src/emulators/replicate/server.js';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { findSecrets } from '../helpers/test-app.js';
import { fetchesOf } from '../modelslab/harness.js';
import {
  WEBHOOK_SECRET,
  startReceiver,
  until,
  verifyReceived,
  type Receiver,
} from '../webhooks/receiver.js';

/**
 * Cluster mode with real processes: three gateways on one private Redis (loopback, its own
 * port and directory, no persistence), the ModelsLab and Replicate emulators in this process.
 * Each scenario is what section 7 of the architecture promises across instances.
 */

type Json = Record<string, unknown>;
const KEY = 'gw_cluster_tenant_key_0123456789';
const LIMITED_KEY = 'gw_cluster_limited_key_0123456789';
const LIMIT = 6;
const ML_KEY = 'ml-cluster-upstream-key-8c1d2e3f';
const R8_TOKEN = 'r8_cluster_token_5a6b7c8d9e';
const LEASE_MS = 1500;
const headersOf = (key: string) => ({
  authorization: `Bearer ${key}`,
  'content-type': 'application/json',
});
const headers = headersOf(KEY);

let redis: PrivateRedis;
let ml: ModelslabEmulator;
let r8: ReplicateEmulator;
let rx: Receiver;
let dir: string;
const gateways: ChildGateway[] = [];
const outputs: string[] = [];

async function startGateway(): Promise<ChildGateway> {
  const gw = await startChildGateway({
    GATEWAY_API_KEYS: KEY,
    GATEWAY_CONFIG: join(dir, 'gateway.json'),
    STORE_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    CLAIM_LEASE_MS: String(LEASE_MS),
    WEBHOOK_SECRET,
    OUTBOUND_ALLOWLIST: '127.0.0.1',
    MODELSLAB_BASE_URL: ml.url,
    MODELSLAB_API_KEYS: ML_KEY,
    REPLICATE_BASE_URL: r8.baseUrl,
    REPLICATE_API_TOKEN: R8_TOKEN,
    POLL_INTERVAL_MS: '100',
    POLL_MAX_INTERVAL_MS: '300',
    LOG_LEVEL: 'info',
  });
  gateways.push(gw);
  return gw;
}

let prefix = '';

async function call(
  gw: ChildGateway,
  method: string,
  path: string,
  body?: Json,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: Json; at: number }> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { ...headers, ...extra },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const at = performance.now();
  outputs.push(text);
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, at };
}

const createImage = (gw: ChildGateway, webhookPath?: string, extra?: Record<string, string>) =>
  call(
    gw,
    'POST',
    '/v1/text-to-image',
    {
      model: 'modelslab/sdxl',
      prompt: 'a lighthouse',
      ...(webhookPath ? { webhook: { url: `${rx.url}${webhookPath}` } } : {}),
    },
    extra,
  );

async function finished(gw: ChildGateway, id: string, timeoutMs = 20_000): Promise<Json> {
  return until(
    async () => {
      const { body } = await call(gw, 'GET', `/v1/tasks/${id}`);
      return ['succeeded', 'failed', 'canceled'].includes(body.status as string) ? body : undefined;
    },
    `task ${id} to finish`,
    timeoutMs,
  );
}

const upstreamIdOf = (task: Json) => (task.upstream as Json).id as string;
const alive = (gw: ChildGateway) => gw.child.exitCode === null && gw.child.signalCode === null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'genway-cluster-'));
  prefix = `genway-cluster-${randomBytes(4).toString('hex')}:`;
  writeFileSync(
    join(dir, 'gateway.json'),
    JSON.stringify({
      tenants: [{ id: 'limited', keys: [LIMITED_KEY], rate_limit: { max: LIMIT, window: '1m' } }],
    }),
  );
  redis = await startPrivateRedis();
  ml = await startModelslabEmulator({ apiKeys: [ML_KEY], queueLimit: 1000 });
  // timeScale: the adapter's `Prefer: wait=5` on creates holds 5 ms, not 5 s.
  r8 = await startReplicateEmulator({
    tokens: [R8_TOKEN],
    pollsProcessing: 100_000,
    timeScale: 0.001,
  });
  rx = await startReceiver();
}, 30_000);

afterAll(async () => {
  for (const gw of gateways) if (alive(gw)) await gw.stop('SIGKILL');
  await rx?.close();
  await ml?.close();
  await r8?.close();
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('three gateway processes on one Redis', () => {
  let single = 0;
  let a: ChildGateway;
  let b: ChildGateway;
  let c: ChildGateway;

  it('one instance alone: the polls a task needs', async () => {
    a = await startGateway();
    const counts: number[] = [];
    for (let i = 0; i < 2; i++) {
      ml.scriptNext({ processing: 3, eta: 0 });
      const created = await createImage(a);
      expect(created.status).toBe(201);
      const done = await finished(a, created.body.id as string);
      expect(done.status).toBe('succeeded');
      counts.push(fetchesOf(ml, upstreamIdOf(done)).length);
    }
    expect(counts[0]).toBe(counts[1]);
    single = counts[0]!;
    expect(single).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('tasks created round-robin over 3 instances complete with the same polls per task', async () => {
    [b, c] = await Promise.all([startGateway(), startGateway()]);
    const three = [a, b, c];
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) {
      ml.scriptNext({ processing: 3, eta: 0 });
      const created = await createImage(three[i % 3]!);
      expect(created.status).toBe(201);
      ids.push(created.body.id as string);
    }
    for (const [i, id] of ids.entries()) {
      // Read through another instance than the one that created it.
      const done = await finished(three[(i + 1) % 3]!, id);
      expect(done.status).toBe('succeeded');
      expect(fetchesOf(ml, upstreamIdOf(done))).toHaveLength(single);
    }
  }, 60_000);

  it('a long-poll on B returns within 100 ms of a change written by A', async () => {
    const latencies: number[] = [];
    for (let round = 0; round < 3; round++) {
      const created = await call(a, 'POST', '/v1/text-to-image', {
        model: 'replicate/black-forest-labs/flux-schnell',
        prompt: 'a harbour',
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      // Running and quiet (the upstream keeps answering `processing`).
      await until(
        async () => (await call(a, 'GET', `/v1/tasks/${id}`)).body.status === 'running',
        'the task to run',
      );
      await new Promise((r) => setTimeout(r, 400));
      const seen = (await call(b, 'GET', `/v1/tasks/${id}`)).body;
      const waiting = call(b, 'GET', `/v1/tasks/${id}?wait=20`);
      await new Promise((r) => setTimeout(r, 300));
      const canceled = await call(a, 'POST', `/v1/tasks/${id}/cancel`);
      expect(canceled.status).toBe(200);
      expect(canceled.body.status).toBe('canceled');
      const woken = await waiting;
      expect(woken.body.status, `seen before: ${JSON.stringify(seen.status)}`).toBe('canceled');
      latencies.push(woken.at - canceled.at);
    }
    for (const ms of latencies) expect(ms).toBeLessThan(100);
  }, 60_000);

  it('20 concurrent creates with one Idempotency-Key over 3 instances start one upstream job', async () => {
    const before = ml.creates;
    const three = [a, b, c];
    ml.scriptNext({ processing: 2, eta: 0 });
    const key = `idem-${randomBytes(6).toString('hex')}`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        createImage(three[i % 3]!, undefined, { 'idempotency-key': key }),
      ),
    );
    for (const answer of answers) expect([200, 201]).toContain(answer.status);
    expect(new Set(answers.map((x) => x.body.id)).size).toBe(1);
    expect(ml.creates - before).toBe(1);
    await finished(b, answers[0]!.body.id as string);
  }, 60_000);

  it(`a tenant limit of ${LIMIT} per window admits ${LIMIT} requests spread over the 3 instances`, async () => {
    const three = [a, b, c];
    const statuses = await Promise.all(
      Array.from({ length: 3 * LIMIT }, async (_, i) => {
        const res = await fetch(`${three[i % 3]!.url}/v1/models`, {
          headers: headersOf(LIMITED_KEY),
        });
        await res.text();
        return res.status;
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2 * LIMIT);
  }, 30_000);

  it('kill -9 of an instance holding running tasks: the others finish them, one create each, every webhook delivered', async () => {
    const before = ml.creates;
    const ids: string[] = [];
    const paths: string[] = [];
    for (let i = 0; i < 6; i++) {
      ml.scriptNext({ processing: 6, eta: 0 });
      const path = `/kill-${i}`;
      const created = await createImage(i % 2 === 0 ? c : a, path);
      expect(created.status).toBe(201);
      ids.push(created.body.id as string);
      paths.push(path);
    }
    // C has polled some of them (its claims are live) when it dies.
    await new Promise((r) => setTimeout(r, 700));
    outputs.push(c.output());
    expect(await c.stop('SIGKILL')).toBeNull();
    for (const id of ids) {
      const done = await finished(a, id, 30_000);
      expect(done.status).toBe('succeeded');
    }
    expect(ml.creates - before).toBe(6);
    for (const [i, path] of paths.entries()) {
      const got = await until(
        async () => {
          const hits = rx.received.filter((r) => r.path === path);
          return hits.length > 0 ? hits : undefined;
        },
        `the webhook of ${path}`,
        30_000,
      );
      expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(1);
      expect(verifyReceived(got[0]!)).toMatchObject({ id: ids[i], status: 'succeeded' });
    }
  }, 90_000);

  it('Redis stopped and restarted: no process exits, 503 while it is down, full service after', async () => {
    const live = [a, b];
    const known = (await createImage(a)).body.id as string;
    await redis.stop();
    await new Promise((r) => setTimeout(r, 300));
    for (const gw of live) {
      const read = await call(gw, 'GET', `/v1/tasks/${known}`);
      expect(read.status).toBe(503);
      expect(read.body.code).toBe('store_unavailable');
      const ready = await fetch(`${gw.url}/readyz`);
      await ready.text();
      expect(ready.status).toBe(503);
    }
    await new Promise((r) => setTimeout(r, 2500));
    for (const gw of live) expect(alive(gw)).toBe(true);
    await redis.start();
    // Back by itself: creates and reads work again on every instance.
    for (const gw of live) {
      await until(
        async () => (await fetch(`${gw.url}/readyz`).then((r) => r.status)) === 200,
        'ready again',
        15_000,
      );
      ml.scriptNext({ processing: 1, eta: 0 });
      const created = await createImage(gw);
      expect(created.status).toBe(201);
      expect((await finished(live[0] === gw ? b : a, created.body.id as string)).status).toBe(
        'succeeded',
      );
    }
    // Redis ran without persistence: the loss is detected, logged and counted.
    for (const gw of live) {
      await until(async () => /lost its data/.test(gw.output()), 'the data loss to be logged');
      const metrics = await fetch(`${gw.url}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/^genway_store_resets_total 1$/m);
    }
  }, 90_000);

  it('no process printed a secret', async () => {
    for (const gw of gateways) outputs.push(gw.output());
    const secrets = [KEY, LIMITED_KEY, ML_KEY, R8_TOKEN, WEBHOOK_SECRET];
    expect(findSecrets(outputs, secrets)).toEqual([]);
  });
});
