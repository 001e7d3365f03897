import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import { findSecrets } from '../helpers/test-app.js';
import { startCallbackGateway, visible, type CallbackGateway, type Json } from './harness.js';

const KEY = 'ml-callback-test-key-0123456789';
const settings = (baseUrl: string): ModelslabSettings => ({
  baseUrl,
  credentials: [{ id: 'ml-1', secret: KEY }],
  emulated: false,
  loadBalancer: true,
  videoPath: '/api/v1/enterprise/video/text2video',
});
const IMAGE = { model: 'modelslab/sdxl', prompt: 'a lighthouse at dusk' };

/** The webhook URL (with its token) genway sent on the create of `taskId`. */
function webhookOf(emu: ModelslabEmulator, taskId: string): URL {
  const call = emu.calls.find((c) => (c.body as Json | undefined)?.track_id === taskId);
  const webhook = (call?.body as Json | undefined)?.webhook;
  if (typeof webhook !== 'string') throw new Error(`no webhook sent for ${taskId}`);
  return new URL(webhook);
}

const fetchCalls = (emu: ModelslabEmulator) =>
  emu.calls.filter((c) => c.path.includes('/fetch')).length;

describe('ModelsLab callbacks (PUBLIC_URL set, polls every 60 s)', () => {
  let emu: ModelslabEmulator;
  let gw: CallbackGateway;
  beforeAll(async () => {
    emu = await startModelslabEmulator({ apiKeys: [KEY], queueLimit: 50 });
    gw = await startCallbackGateway({ modelslab: settings(emu.url) });
  });
  afterAll(async () => {
    await gw?.close();
    await emu?.close();
  });

  it('asks for a webhook with an unguessable per-task token and track_id, keeping only its hash', async () => {
    emu.scriptNext({ processing: 10 });
    const task = await gw.create('text-to-image', IMAGE);
    const hook = webhookOf(emu, String(task.id));
    expect(hook.origin).toBe(gw.url);
    expect(hook.pathname).toBe(`/callbacks/modelslab/${String(task.id)}`);
    const token = hook.searchParams.get('token') ?? '';
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits
    const record = await gw.record(String(task.id));
    expect(record.upstreamState.callback).toEqual({ tokenHash: expect.any(String) });
    expect(JSON.stringify(record)).not.toContain(token);
    // Another task gets another token.
    emu.scriptNext({ processing: 10 });
    const other = await gw.create('text-to-image', IMAGE);
    expect(webhookOf(emu, String(other.id)).searchParams.get('token')).not.toBe(token);
  });

  it('the callback, not a poll, finishes the task', async () => {
    emu.scriptNext({ processing: 50, finishAfterMs: 500 });
    const started = Date.now();
    const before = fetchCalls(emu);
    const task = await gw.create('text-to-image', IMAGE);
    expect(task.status).toBe('running');
    const done = await gw.waitTerminal(String(task.id));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(done).toMatchObject({ status: 'succeeded', upstream: { status: 'success' } });
    expect((done.outputs as unknown[]).length).toBe(1);
    expect(fetchCalls(emu)).toBe(before); // no fetch (poll) was needed
    await emu.webhooksIdle();
    const sent = emu.sentWebhooks().filter((w) => w.body.includes(String(task.id)));
    expect(sent.map((w) => w.status)).toEqual([200]);
    expect(JSON.parse(sent[0]!.answer)).toEqual({ received: true, applied: true });
    // The token never reaches a log line.
    const token = webhookOf(emu, String(task.id)).searchParams.get('token') ?? '';
    expect(findSecrets(gw.t.logs, [token])).toEqual([]);
    expect(gw.t.logs.join('\n')).toContain('upstream callback applied');
  });

  it('forged upstream callbacks are rejected and change nothing', async () => {
    emu.scriptNext({ processing: 50 });
    const task = await gw.create('text-to-image', IMAGE);
    const id = String(task.id);
    emu.scriptNext({ processing: 50 });
    const other = await gw.create('text-to-image', IMAGE);
    const before = visible(await gw.record(id));
    const token = webhookOf(emu, id).searchParams.get('token') ?? '';
    const otherToken = webhookOf(emu, String(other.id)).searchParams.get('token') ?? '';
    const upstream = before.upstreamId;
    const success = (extra: Json = {}) =>
      JSON.stringify({
        status: 'success',
        id: Number(upstream),
        output: ['https://pub-0123456789abcdef0123456789abcdef.r2.dev/generations/evil.png'],
        track_id: id,
        ...extra,
      });
    const attempts: [string, string, string, number][] = [
      ['no token', `/callbacks/modelslab/${id}`, success(), 401],
      ['wrong token', `/callbacks/modelslab/${id}?token=${'A'.repeat(43)}`, success(), 401],
      ['empty token', `/callbacks/modelslab/${id}?token=`, success(), 401],
      ["another task's token", `/callbacks/modelslab/${id}?token=${otherToken}`, success(), 401],
      [
        'unknown task',
        `/callbacks/modelslab/task_01UNKNOWN00000000000000000?token=${token}`,
        success(),
        401,
      ],
      [
        'track_id of another task',
        `/callbacks/modelslab/${id}?token=${token}`,
        success({ track_id: String(other.id) }),
        403,
      ],
      [
        'another upstream job',
        `/callbacks/modelslab/${id}?token=${token}`,
        success({ id: 1 }),
        403,
      ],
      ['not JSON', `/callbacks/modelslab/${id}?token=${token}`, 'status=success', 400],
    ];
    for (const [what, path, body, status] of attempts) {
      const res = await gw.post(path, body);
      expect(res.status, what).toBe(status);
      expect(res.type, what).toContain('application/problem+json');
      expect(JSON.parse(res.text).request_id, what).toEqual(expect.any(String));
      expect(res.text, what).not.toContain(token);
    }
    expect(visible(await gw.record(id))).toEqual(before);
    // Unknown callback routes and providers without callbacks: 404.
    expect((await gw.post('/callbacks/haiper/x', '{}')).status).toBe(404);
    expect((await gw.post('/callbacks/replicate/x', '{}')).status).toBe(404);
  });

  it('duplicate deliveries and late callbacks change nothing', async () => {
    emu.webhookDelivery({ copies: 3 });
    try {
      emu.scriptNext({ processing: 50, finishAfterMs: 500 });
      const task = await gw.create('text-to-image', IMAGE);
      const id = String(task.id);
      await gw.waitTerminal(id);
      await emu.webhooksIdle();
      const sent = emu.sentWebhooks().filter((w) => w.body.includes(id));
      expect(sent).toHaveLength(3);
      expect(sent.map((w) => w.status)).toEqual([200, 200, 200]);
      const applied = sent.map((w) => (JSON.parse(w.answer) as Json).applied);
      expect(applied.filter(Boolean)).toHaveLength(1);
      const done = await gw.record(id);
      expect(done.changes.filter((c) => c.status === 'succeeded')).toHaveLength(1);

      // Late: a `processing` or a `failed` after success.
      const hook = webhookOf(emu, id);
      const path = `${hook.pathname}${hook.search}`;
      for (const late of [
        { status: 'processing', id: Number(done.upstreamId), eta: 5, track_id: id },
        { status: 'failed', id: Number(done.upstreamId), message: 'late', track_id: id },
      ]) {
        const res = await gw.post(path, JSON.stringify(late));
        expect(res.status).toBe(200);
        expect(JSON.parse(res.text)).toEqual({ received: true, applied: false });
      }
      expect(visible(await gw.record(id))).toEqual(visible(done));
    } finally {
      emu.webhookDelivery({ copies: 1 });
    }
  });

  it('a failed callback fails the task', async () => {
    emu.scriptNext({
      fail: 'Processing failed: Invalid input dimensions',
      afterFetches: 50,
      finishAfterMs: 500,
    });
    const task = await gw.create('text-to-image', IMAGE);
    const done = await gw.waitTerminal(String(task.id));
    expect(done).toMatchObject({
      status: 'failed',
      outputs: [],
      error: { code: 'upstream_rejected', message: 'Processing failed: Invalid input dimensions' },
    });
  });
});

describe('ModelsLab: polling still finishes a task whose callback never came', () => {
  let emu: ModelslabEmulator;
  let gw: CallbackGateway;
  beforeAll(async () => {
    emu = await startModelslabEmulator({ apiKeys: [KEY], webhooks: { enabled: false } });
    gw = await startCallbackGateway(
      { modelslab: settings(emu.url) },
      { POLL_INTERVAL_MS: '30', POLL_MAX_INTERVAL_MS: '200' },
    );
  });
  afterAll(async () => {
    await gw?.close();
    await emu?.close();
  });

  it('succeeds through fetches', async () => {
    emu.scriptNext({ processing: 2, eta: 0 });
    const task = await gw.create('text-to-image', IMAGE);
    const done = await gw.waitTerminal(String(task.id));
    expect(done.status).toBe('succeeded');
    expect(fetchCalls(emu)).toBeGreaterThanOrEqual(3);
    expect(emu.pendingWebhooks()).toHaveLength(1); // due, but the upstream never sent it
    expect(emu.sentWebhooks()).toEqual([]);
    // The token's hash outlived the polls (their answers replace the adapter's state), so a
    // callback that comes after all is still recognised, and changes nothing.
    const record = await gw.record(String(task.id));
    expect(record.upstreamState).toMatchObject({ callback: { tokenHash: expect.any(String) } });
    const hook = webhookOf(emu, String(task.id));
    const res = await gw.post(
      `${hook.pathname}${hook.search}`,
      JSON.stringify({ ...emu.pendingWebhooks()[0]!.body }),
    );
    expect([res.status, JSON.parse(res.text)]).toEqual([200, { received: true, applied: false }]);
  });
});
