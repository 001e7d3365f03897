import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import { startModelslabEmulator } from '../../src/emulators/modelslab/server.js';
import { auth, buildTestApp, findSecrets } from '../helpers/test-app.js';
import {
  API,
  ML_BAD_KEY,
  ML_KEYS,
  callsTo,
  startFaultProxy,
  startSuite,
  wrap,
  type Json,
  type Suite,
} from '../modelslab/harness.js';
import {
  histogramProblems,
  parsePrometheus,
  select,
  sumOf,
  valueOf,
  type Scrape,
} from './prometheus-text.js';

const METRICS_TOKEN = 'metrics-token-5d1e9a7c3b2f4e6a';
const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
/** Distinctive prompt text: it must never show up in a label. */
const PROMPT = 'a lighthouse painted by PROMPTMARKER-qv7zk';

const scrapeHeaders = { authorization: `Bearer ${METRICS_TOKEN}` };

describe('GET /metrics after real traffic', () => {
  let s: Suite;
  /** Every request this test sent, by `route method status` (route = pattern). */
  const sent = new Map<string, number>();
  const taskIds: string[] = [];
  const upstreamIds: string[] = [];
  let text = '';
  let scrape: Scrape;

  /** Sends through the app and books the request under the route pattern it should count as. */
  async function send(route: string, opts: InjectOptions): Promise<LightMyRequestResponse> {
    const res = await s.inject(opts);
    const key = `${route} ${opts.method ?? 'GET'} ${res.statusCode}`;
    sent.set(key, (sent.get(key) ?? 0) + 1);
    return res;
  }

  const create = async (body: Json) => {
    const res = await send('/v1/text-to-image', {
      method: 'POST',
      url: '/v1/text-to-image',
      headers: auth(),
      payload: { model: 'modelslab/sdxl', prompt: PROMPT, ...body },
    });
    expect(res.statusCode, res.body).toBe(201);
    const task = res.json<Json>();
    taskIds.push(task.id as string);
    return task;
  };

  /** Long-polls the task (each GET counted) until it is terminal. */
  const waitDone = async (id: string) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const res = await send('/v1/tasks/:id', {
        method: 'GET',
        url: `/v1/tasks/${id}?wait=2`,
        headers: auth(),
      });
      const task = res.json<Json>();
      if (['succeeded', 'failed', 'canceled'].includes(task.status as string)) {
        upstreamIds.push(String((task.upstream as Json).id));
        return task;
      }
      if (Date.now() > deadline) throw new Error(`task ${id} still ${String(task.status)}`);
    }
  };

  beforeAll(async () => {
    s = await startSuite({
      app: {
        env: {
          METRICS_TOKEN,
          WEBHOOK_SECRET,
          // The webhook target below is a closed loopback port.
          OUTBOUND_ALLOWLIST: '127.0.0.1',
        },
        // Deliveries stay pending, so the backlog gauge has something to count.
        webhooks: false,
      },
    });

    // 1. Done at once (succeeded on create), with a webhook: one pending delivery.
    const instant = await create({ webhook: { url: 'http://127.0.0.1:9/hook' } });
    expect(instant.status).toBe('succeeded');
    await waitDone(instant.id as string);
    // 2. Processing twice, then succeeded: polled by the background poller.
    s.emu.scriptNext({ processing: 2, eta: 0 });
    const polled = await create({});
    expect(polled.status).toBe('running');
    expect(await waitDone(polled.id as string)).toMatchObject({ status: 'succeeded' });
    // 3. Failed upstream on its first fetch.
    s.emu.scriptNext({ fail: 'Image generation failed', afterFetches: 0 });
    const failing = await create({});
    expect(await waitDone(failing.id as string)).toMatchObject({ status: 'failed' });
    // 4. 400: a bad body (prompt missing, width not a number).
    const bad = await send('/v1/text-to-image', {
      method: 'POST',
      url: '/v1/text-to-image',
      headers: auth(),
      payload: { model: 'modelslab/sdxl', width: 'wide' },
    });
    expect(bad.statusCode).toBe(400);
    // 5. 401: no gateway key; and a wrong one.
    expect((await send('/v1/tasks', { method: 'GET', url: '/v1/tasks' })).statusCode).toBe(401);
    const wrongKey = { authorization: 'Bearer gw_not_a_key_0123456789abcdef' };
    const wrong = await send('/v1/tasks', { method: 'GET', url: '/v1/tasks', headers: wrongKey });
    expect(wrong.statusCode).toBe(401);
    // 6. 404 on a matched route (unknown task) and on no route at all (raw URL with an id).
    const missing = await send('/v1/tasks/:id', {
      method: 'GET',
      url: '/v1/tasks/task_01NOSUCHTASK00000000000000',
      headers: auth(),
    });
    expect(missing.statusCode).toBe(404);
    const nowhere = await send('unmatched', {
      method: 'GET',
      url: '/no/such/route/task_01RAWURL0000000000000000?key=PROMPTMARKER-qv7zk',
    });
    expect(nowhere.statusCode).toBe(404);
    // A path parameter over the router's limit: refused before routing (frameworkErrors).
    const overLong = await send('unmatched', {
      method: 'GET',
      url: `/v1/tasks/task_${'x'.repeat(300)}`,
      headers: auth(),
    });
    expect(overLong.statusCode).toBe(400);
    // 7. A list: 200.
    const list = await send('/v1/tasks', { method: 'GET', url: '/v1/tasks', headers: auth() });
    expect(list.statusCode).toBe(200);
    // 8. /metrics refuses a scrape without the token, with a wrong one, with a gateway key.
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0000000000000000' }, auth()]) {
      const res = await send('/metrics', { method: 'GET', url: '/metrics', headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).not.toContain('genway_');
    }

    const res = await s.inject({ method: 'GET', url: '/metrics', headers: scrapeHeaders });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    text = res.body;
    scrape = parsePrometheus(text);
  }, 30_000);

  afterAll(async () => {
    expect(s.leaks()).toEqual([]);
    await s.close();
  });

  it('is well-formed: every line parses, every family has HELP and TYPE', () => {
    expect(scrape.malformed).toEqual([]);
    expect(scrape.samples.length).toBeGreaterThan(50);
    const families = new Set(scrape.types.keys());
    for (const sample of scrape.samples) {
      const family = sample.name.replace(/_(bucket|sum|count)$/, '');
      expect(families.has(sample.name) || families.has(family), sample.name).toBe(true);
    }
    for (const name of families) expect(scrape.help.get(name), name).toBeTruthy();
    // Every series of ours carries the genway_ prefix, process metrics included.
    for (const name of families) expect(name.startsWith('genway_'), name).toBe(true);
  });

  it('counts HTTP requests by route pattern, method and status: exactly what was sent', () => {
    const counted = new Map<string, number>();
    for (const sample of select(scrape, 'genway_http_requests_total')) {
      const { route, method, status } = sample.labels;
      counted.set(`${route} ${method} ${status}`, sample.value);
    }
    expect(Object.fromEntries(counted)).toEqual(Object.fromEntries(sent));
    const http = (route: string, method: string, status: string) =>
      valueOf(scrape, 'genway_http_requests_total', { route, method, status });
    expect(http('/v1/text-to-image', 'POST', '201')).toBe(3);
    expect(http('/v1/text-to-image', 'POST', '400')).toBe(1);
    expect(http('/v1/tasks', 'GET', '401')).toBe(2);
    expect(http('/v1/tasks', 'GET', '200')).toBe(1);
    expect(http('/v1/tasks/:id', 'GET', '404')).toBe(1);
    expect(http('/v1/tasks/:id', 'GET', '200')).toBeGreaterThanOrEqual(3);
    expect(http('unmatched', 'GET', '404')).toBe(1);
    expect(http('unmatched', 'GET', '400')).toBe(1);
    expect(http('/metrics', 'GET', '401')).toBe(3);
  });

  it('times HTTP requests in a histogram per route and method that adds up', () => {
    expect(histogramProblems(scrape, 'genway_http_request_duration_seconds')).toEqual([]);
    for (const sample of select(scrape, 'genway_http_request_duration_seconds_count')) {
      const { route, method } = sample.labels;
      const requests = sumOf(scrape, 'genway_http_requests_total', {
        route: route!,
        method: method!,
      });
      expect(sample.value, `${route} ${method}`).toBe(requests);
    }
    // Long polls held the answer: the GET /v1/tasks/:id sum is above zero.
    expect(
      valueOf(scrape, 'genway_http_request_duration_seconds_sum', {
        route: '/v1/tasks/:id',
        method: 'GET',
      }),
    ).toBeGreaterThan(0);
  });

  it('counts and times upstream calls by provider, operation and outcome', () => {
    const creates = callsTo(s.emu, '/api/v1/enterprise/text2img').length;
    const fetches = callsTo(s.emu, '/api/v1/enterprise/fetch').length;
    expect(creates).toBe(3);
    expect(fetches).toBeGreaterThanOrEqual(4); // 3 for the processing job, 1 for the failing one
    const upstream = (operation: string, outcome: string) =>
      valueOf(scrape, 'genway_upstream_requests_total', {
        provider: 'modelslab',
        operation,
        outcome,
      });
    expect(upstream('create', 'ok')).toBe(creates);
    expect(upstream('poll', 'ok')).toBe(fetches);
    expect(sumOf(scrape, 'genway_upstream_requests_total')).toBe(creates + fetches);
    expect(histogramProblems(scrape, 'genway_upstream_request_duration_seconds')).toEqual([]);
    const timed = (operation: string) =>
      valueOf(scrape, 'genway_upstream_request_duration_seconds_count', {
        provider: 'modelslab',
        operation,
      });
    expect(timed('create')).toBe(creates);
    expect(timed('poll')).toBe(fetches);
  });

  it('shows tasks by provider and status, transitions and polls', () => {
    const tasks = (status: string) =>
      valueOf(scrape, 'genway_tasks', { provider: 'modelslab', status });
    expect(tasks('succeeded')).toBe(2);
    expect(tasks('failed')).toBe(1);
    expect(tasks('queued')).toBe(0);
    expect(tasks('running')).toBe(0);
    expect(tasks('canceled')).toBe(0);

    const entered = (status: string) =>
      valueOf(scrape, 'genway_task_transitions_total', { provider: 'modelslab', status });
    expect(entered('queued')).toBe(3);
    expect(entered('running')).toBe(2);
    expect(entered('succeeded')).toBe(2);
    expect(entered('failed')).toBe(1);
    expect(entered('canceled')).toBe(0);

    const fetches = callsTo(s.emu, '/api/v1/enterprise/fetch').length;
    expect(valueOf(scrape, 'genway_polls_total', { provider: 'modelslab', outcome: 'ok' })).toBe(
      fetches,
    );
    expect(valueOf(scrape, 'genway_polls_total', { provider: 'modelslab', outcome: 'retry' })).toBe(
      0,
    );
  });

  it('shows webhook deliveries by outcome and the pending backlog', () => {
    // The dispatcher is off in this app: the one delivery recorded stays pending.
    expect(valueOf(scrape, 'genway_webhook_backlog')).toBe(1);
    for (const outcome of ['delivered', 'retry', 'failed']) {
      expect(valueOf(scrape, 'genway_webhook_deliveries_total', { outcome }), outcome).toBe(0);
    }
  });

  it('shows each configured credential by id: state and in-flight count', () => {
    const labels = { provider: 'modelslab', credential: 'modelslab-1' };
    expect(valueOf(scrape, 'genway_credential_state', { ...labels, state: 'closed' })).toBe(1);
    expect(sumOf(scrape, 'genway_credential_state', labels)).toBe(1);
    expect(valueOf(scrape, 'genway_credential_in_flight', labels)).toBe(0);
  });

  it('includes process metrics under the genway_ prefix', () => {
    expect(valueOf(scrape, 'genway_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(scrape, 'genway_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(select(scrape, 'genway_nodejs_heap_size_used_bytes').length).toBe(1);
  });

  it('carries no secret, no prompt, no task or upstream id and no raw URL in any label', () => {
    const secrets = [...s.secrets(), METRICS_TOKEN, WEBHOOK_SECRET];
    expect(findSecrets([text], secrets)).toEqual([]);
    expect(s.t.secrets).toContain(METRICS_TOKEN); // scrubbed from logs like any secret
    const values = new Set(scrape.samples.flatMap((x) => Object.values(x.labels)));
    const ids = new Set([...taskIds, ...upstreamIds]);
    expect(taskIds).toHaveLength(3);
    expect(upstreamIds).toHaveLength(3);
    const unbounded = [...values].filter(
      (v) => v.includes('PROMPTMARKER') || /task_|msg_|\?|127\.0\.0\.1|http/.test(v) || ids.has(v),
    );
    expect(unbounded).toEqual([]);
    // Label values come from code and configuration: a few dozen, whatever the traffic.
    expect(values.size).toBeLessThan(100);
    expect(text).not.toContain('PROMPTMARKER');
    for (const id of taskIds) expect(text).not.toContain(id);
    // Label values come from small fixed sets.
    const routes = new Set(select(scrape, 'genway_http_requests_total').map((x) => x.labels.route));
    expect([...routes].sort()).toEqual([
      '/metrics',
      '/v1/tasks',
      '/v1/tasks/:id',
      '/v1/text-to-image',
      'unmatched',
    ]);
    const outcomes = new Set(
      select(scrape, 'genway_upstream_requests_total').map((x) => x.labels.outcome),
    );
    expect([...outcomes]).toEqual(['ok']);
  });
});

describe('GET /metrics protection and upstream failures', () => {
  it('is open when METRICS_TOKEN is unset, and documented in the OpenAPI document', async () => {
    const t = await buildTestApp();
    try {
      const res = await t.app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('# TYPE genway_http_requests_total counter');
      const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<Json>();
      const op = ((doc.paths as Json)['/metrics'] as Json).get as Json;
      expect(op.tags).toEqual(['operations']);
    } finally {
      await t.close();
    }
  });

  it('refuses a METRICS_TOKEN shorter than 16 characters, naming the variable', async () => {
    await expect(buildTestApp({ env: { METRICS_TOKEN: 'short' } })).rejects.toThrow(
      /METRICS_TOKEN/,
    );
  });

  it('classifies failed upstream calls and polls into bounded outcomes', async () => {
    const emu = await startModelslabEmulator({ apiKeys: [...ML_KEYS] });
    const proxy = await startFaultProxy(emu.url);
    const settings = (baseUrl: string): ModelslabSettings => ({
      baseUrl,
      credentials: [{ id: 'modelslab-1', secret: ML_KEYS[0] }],
      emulated: false,
      loadBalancer: true,
      videoPath: `${API}/video/text2video`,
    });
    const t = await buildTestApp({
      env: { METRICS_TOKEN },
      providers: { modelslab: settings(proxy.url) },
    });
    const s = wrap(emu, t, () => t.close());
    // An upstream on a port nobody listens on: the call never leaves.
    const closed = await buildTestApp({
      env: { METRICS_TOKEN },
      providers: { modelslab: settings('http://127.0.0.1:1') },
    });
    try {
      // A 503 on create: the task fails at once, the call counts as http_5xx.
      emu.scriptNext({ http: 503 });
      const rejected = await s.create('text-to-image', { model: 'modelslab/sdxl', prompt: PROMPT });
      expect(rejected.statusCode).toBeGreaterThanOrEqual(500);
      // A 500 on the first fetch: that poll is retried, the next one succeeds.
      emu.scriptNext({ processing: 1, eta: 0 });
      proxy.failNext((p) => p.includes('/fetch'), 500, 1);
      const created = await s.create('text-to-image', { model: 'modelslab/sdxl', prompt: PROMPT });
      expect(created.statusCode).toBe(201);
      const done = await s.waitDone(created.json<Json>().id as string);
      expect(done.status).toBe('succeeded');
      const fetches = proxy.calls.filter((c) => c.path.includes('/fetch')).length;

      const m = parsePrometheus(
        (await s.inject({ method: 'GET', url: '/metrics', headers: scrapeHeaders })).body,
      );
      expect(m.malformed).toEqual([]);
      const upstream = (operation: string, outcome: string) =>
        valueOf(m, 'genway_upstream_requests_total', { provider: 'modelslab', operation, outcome });
      expect(upstream('create', 'http_5xx')).toBe(1);
      expect(upstream('create', 'ok')).toBe(1);
      expect(upstream('poll', 'http_5xx')).toBe(1);
      expect(upstream('poll', 'ok')).toBe(fetches - 1);
      const polls = (outcome: string) =>
        valueOf(m, 'genway_polls_total', { provider: 'modelslab', outcome });
      expect(polls('retry')).toBe(1);
      expect(polls('ok')).toBe(fetches - 1);
      expect(polls('failed')).toBe(0);
      expect(valueOf(m, 'genway_tasks', { provider: 'modelslab', status: 'failed' })).toBe(1);
      expect(valueOf(m, 'genway_tasks', { provider: 'modelslab', status: 'succeeded' })).toBe(1);
      const inFlight = { provider: 'modelslab', credential: 'modelslab-1' };
      expect(valueOf(m, 'genway_credential_in_flight', inFlight)).toBe(0);

      const refused = await closed.app.inject({
        method: 'POST',
        url: '/v1/text-to-image',
        headers: auth(),
        payload: { model: 'modelslab/sdxl', prompt: PROMPT },
      });
      expect(refused.statusCode).toBe(503);
      const c = parsePrometheus(
        (await closed.app.inject({ method: 'GET', url: '/metrics', headers: scrapeHeaders })).body,
      );
      expect(
        valueOf(c, 'genway_upstream_requests_total', {
          provider: 'modelslab',
          operation: 'create',
          outcome: 'unreachable',
        }),
      ).toBe(1);

      const secrets = [...s.secrets(), METRICS_TOKEN];
      expect(findSecrets([JSON.stringify(m.samples), JSON.stringify(c.samples)], secrets)).toEqual(
        [],
      );
      expect(s.leaks()).toEqual([]);
      expect(findSecrets(closed.logs, secrets)).toEqual([]);
    } finally {
      await s.close();
      await closed.close();
      await proxy.close();
      await emu.close();
    }
  });

  it('shows a credential the provider refused as open (out of rotation), by id only', async () => {
    const s = await startSuite({
      credentialSecrets: [ML_BAD_KEY],
      // The test app turns cool-downs off (CREDENTIAL_COOLDOWN_MS=0); keep it open here.
      app: { env: { METRICS_TOKEN, CREDENTIAL_COOLDOWN_MS: '60000' } },
    });
    try {
      const res = await s.create('text-to-image', { model: 'modelslab/sdxl', prompt: PROMPT });
      expect(res.statusCode).toBe(502);
      const m = parsePrometheus(
        (await s.inject({ method: 'GET', url: '/metrics', headers: scrapeHeaders })).body,
      );
      const state = (value: string) =>
        valueOf(m, 'genway_credential_state', {
          provider: 'modelslab',
          credential: 'modelslab-1',
          state: value,
        });
      expect([state('closed'), state('open'), state('half_open')]).toEqual([0, 1, 0]);
      expect(findSecrets([JSON.stringify(m.samples)], [...s.secrets(), ML_BAD_KEY])).toEqual([]);
      expect(s.leaks()).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('counts webhook deliveries by outcome and shows the backlog drain', async () => {
    const received: number[] = [];
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        // The first attempt fails, the retry is accepted.
        const status = received.length === 0 ? 500 : 204;
        received.push(status);
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    const s = await startSuite({
      app: {
        env: { METRICS_TOKEN, WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' },
        webhooks: { scheduleMs: [20, 20, 20] },
      },
    });
    try {
      const created = await s.create('text-to-image', {
        model: 'modelslab/sdxl',
        prompt: PROMPT,
        webhook: { url: `http://127.0.0.1:${port}/hook` },
      });
      expect(created.statusCode).toBe(201);
      const deadline = Date.now() + 10_000;
      let m: Scrape;
      for (;;) {
        const res = await s.inject({ method: 'GET', url: '/metrics', headers: scrapeHeaders });
        m = parsePrometheus(res.body);
        if (valueOf(m, 'genway_webhook_deliveries_total', { outcome: 'delivered' }) === 1) break;
        if (Date.now() > deadline) throw new Error(`webhook not delivered: ${received.join(',')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(received).toEqual([500, 204]);
      expect(valueOf(m, 'genway_webhook_deliveries_total', { outcome: 'retry' })).toBe(1);
      expect(valueOf(m, 'genway_webhook_deliveries_total', { outcome: 'failed' })).toBe(0);
      expect(valueOf(m, 'genway_webhook_backlog')).toBe(0);
      const labels = m.samples.flatMap((x) => Object.values(x.labels)).join(' ');
      expect(labels).not.toMatch(/hook|127\.0\.0\.1|msg_|task_/);
      expect(findSecrets([JSON.stringify(m.samples)], [...s.secrets(), WEBHOOK_SECRET])).toEqual(
        [],
      );
      expect(s.leaks()).toEqual([]);
    } finally {
      await s.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
