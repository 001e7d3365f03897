import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicateSettings } from '../../src/providers/replicate/index.js';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
  type ReplicateEmulatorOptions,
} from '../../src/emulators/replicate/server.js';
import { startCallbackGateway, visible, type CallbackGateway, type Json } from './harness.js';

const TOKEN = 'r8_callback_test_token_9f8e7d6c5b4a';
const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
const IMAGE = { model: `replicate/stability-ai/stable-diffusion:${SD}`, prompt: 'a red fox' };
const OTHER_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

async function setup(
  emulator: ReplicateEmulatorOptions,
  env: Record<string, string> = {},
  withSecret = true,
): Promise<{ emu: ReplicateEmulator; gw: CallbackGateway }> {
  // timeScale: the adapter's `Prefer: wait=5` holds the emulator 50 ms, not 5 s.
  const emu = await startReplicateEmulator({ tokens: [TOKEN], timeScale: 0.01, ...emulator });
  const replicate: ReplicateSettings = {
    baseUrl: emu.baseUrl,
    credentials: [{ id: 'replicate-1', secret: TOKEN }],
    emulated: true,
    models: [],
    ...(withSecret ? { webhookSecrets: [OTHER_SECRET, emu.webhookSecret] } : {}),
  };
  const gw = await startCallbackGateway({ replicate }, env);
  return { emu, gw };
}

const polls = (emu: ReplicateEmulator) =>
  emu.calls.filter((c) => c.method === 'GET' && /\/predictions\/[a-z0-9]+$/.test(c.path)).length;

const createBodyOf = (emu: ReplicateEmulator) =>
  emu.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/predictions')).at(-1)
    ?.body as Json;

/** Headers of a Standard Webhooks message signed with `secret` at `at`. */
function signed(secret: string, body: string, at = new Date()): Record<string, string> {
  const id = `msg_${randomBytes(8).toString('hex')}`;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

/** A prediction body as Replicate's webhook sends it. */
function prediction(id: string, status: string, extra: Json = {}): string {
  return JSON.stringify({
    id,
    model: 'stability-ai/stable-diffusion',
    version: SD,
    input: { prompt: 'a red fox' },
    logs: '',
    output: status === 'succeeded' ? ['https://replicate.delivery/pbxt/evil/out-0.png'] : null,
    error: null,
    status,
    created_at: new Date().toISOString(),
    urls: {},
    ...extra,
  });
}

describe('Replicate callbacks: signed webhooks finish tasks', () => {
  let emu: ReplicateEmulator;
  let gw: CallbackGateway;
  beforeAll(async () => {
    ({ emu, gw } = await setup({ autoAdvanceMs: 100, pollsStarting: 3, pollsProcessing: 3 }));
  });
  afterAll(async () => {
    await gw?.close();
    await emu?.close();
  });

  it('the completed webhook, not a poll, finishes the task', async () => {
    const before = polls(emu);
    const task = await gw.create('text-to-image', IMAGE);
    const id = String(task.id);
    expect(createBodyOf(emu)).toMatchObject({
      webhook: `${gw.url}/callbacks/replicate/${id}`,
      webhook_events_filter: ['start', 'completed'],
    });
    expect(['queued', 'running']).toContain(task.status); // the 50 ms wait ran out first
    const done = await gw.waitTerminal(id);
    expect(done).toMatchObject({ status: 'succeeded', upstream: { status: 'succeeded' } });
    expect((done.outputs as unknown[]).length).toBe(1);
    expect(polls(emu)).toBe(before);
    await emu.webhooksIdle();
    const sent = emu.sentWebhooks().filter((w) => w.url.endsWith(id));
    expect(sent.map((w) => JSON.parse(w.body).status)).toEqual(['processing', 'succeeded']);
    expect(sent.map((w) => w.status)).toEqual([200, 200]);
    const record = await gw.record(id);
    expect(record.changes.map((c) => c.status).filter((s) => s === 'succeeded')).toHaveLength(1);
  });

  it('duplicate deliveries and late webhooks change nothing', async () => {
    emu.webhookDelivery({ copies: 2 });
    try {
      const task = await gw.create('text-to-image', IMAGE);
      const id = String(task.id);
      await gw.waitTerminal(id);
      await emu.webhooksIdle();
      const sent = emu.sentWebhooks().filter((w) => w.url.endsWith(id));
      expect(sent).toHaveLength(4); // start and completed, twice each
      expect(sent.every((w) => w.status === 200)).toBe(true);
      // Of the two `completed` copies, one finished the task and the other changed nothing.
      const completed = sent.filter((w) => JSON.parse(w.body).status === 'succeeded');
      expect(completed.map((w) => JSON.parse(w.answer).applied).sort()).toEqual([false, true]);
      const done = await gw.record(id);

      for (const late of ['processing', 'starting', 'failed', 'canceled']) {
        const body = prediction(done.upstreamId!, late, { error: late === 'failed' ? 'x' : null });
        const res = await gw.post(
          `/callbacks/replicate/${id}`,
          body,
          signed(emu.webhookSecret, body),
        );
        expect(res.status, late).toBe(200);
        expect(JSON.parse(res.text), late).toEqual({ received: true, applied: false });
      }
      expect(visible(await gw.record(id))).toEqual(visible(done));
    } finally {
      emu.webhookDelivery({ copies: 1 });
    }
  });

  it('a failed webhook fails the task', async () => {
    emu.scriptNext({ failWith: 'CUDA out of memory' });
    const task = await gw.create('text-to-image', IMAGE);
    const done = await gw.waitTerminal(String(task.id));
    expect(done).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_rejected', message: 'CUDA out of memory' },
    });
  });
});

describe('Replicate callbacks: forged ones are rejected', () => {
  let emu: ReplicateEmulator;
  let gw: CallbackGateway;
  beforeAll(async () => {
    // No autoAdvance and no polls within the test: tasks stay `starting` until told otherwise.
    ({ emu, gw } = await setup({ pollsStarting: 1000 }));
  });
  afterAll(async () => {
    await gw?.close();
    await emu?.close();
  });

  it('forged upstream callbacks are rejected and change nothing', async () => {
    const task = await gw.create('text-to-image', IMAGE);
    const id = String(task.id);
    const before = visible(await gw.record(id));
    const upstream = before.upstreamId!;
    const body = prediction(upstream, 'succeeded');
    const secret = emu.webhookSecret;
    const wrong = `whsec_${randomBytes(24).toString('base64')}`;
    const stale = new Date(Date.now() - 6 * 60_000);
    const good = signed(secret, body);
    const attempts: [string, string, string, Record<string, string>, number][] = [
      ['no signature', id, body, {}, 401],
      ['signed with another secret', id, body, signed(wrong, body), 401],
      ['body changed after signing', id, body.replace('red fox', 'blue fox'), good, 401],
      ['timestamp 6 minutes old', id, body, signed(secret, body, stale), 401],
      [
        'timestamp 6 minutes ahead',
        id,
        body,
        signed(secret, body, new Date(Date.now() + 360_000)),
        401,
      ],
      ['signature of another message id', id, body, { ...good, 'webhook-id': 'msg_other' }, 401],
      ['unknown task', 'task_01UNKNOWN00000000000000000', body, good, 404],
    ];
    for (const [what, taskId, sent, headers, status] of attempts) {
      const res = await gw.post(`/callbacks/replicate/${taskId}`, sent, headers);
      expect(res.status, what).toBe(status);
      expect(res.type, what).toContain('application/problem+json');
    }
    // Authentic, but about another prediction than the task's.
    const elsewhere = prediction('someotherpredictionid00000', 'succeeded');
    const mismatch = await gw.post(
      `/callbacks/replicate/${id}`,
      elsewhere,
      signed(secret, elsewhere),
    );
    expect(mismatch.status).toBe(403);
    expect(JSON.parse(mismatch.text).code).toBe('callback_mismatch');
    expect(visible(await gw.record(id))).toEqual(before);
  });

  it('a non-terminal webhook moves the task on but keeps its scheduled poll', async () => {
    const task = await gw.create('text-to-image', IMAGE);
    const id = String(task.id);
    const before = await gw.record(id);
    expect(before.nextPollAt).not.toBeNull();
    const body = prediction(before.upstreamId!, 'processing', {
      logs: ' 40%|████      | 20/50 [00:01<00:01, 20.00it/s]\n',
    });
    const res = await gw.post(`/callbacks/replicate/${id}`, body, signed(emu.webhookSecret, body));
    expect(JSON.parse(res.text)).toEqual({ received: true, applied: true });
    const after = await gw.record(id);
    expect(after).toMatchObject({
      status: 'running',
      progress: 0.4,
      nextPollAt: before.nextPollAt,
    });
    // An older status (`starting`) or the same progress again: nothing.
    for (const again of [prediction(before.upstreamId!, 'starting'), body]) {
      const r = await gw.post(
        `/callbacks/replicate/${id}`,
        again,
        signed(emu.webhookSecret, again),
      );
      expect(JSON.parse(r.text)).toEqual({ received: true, applied: false });
    }
    expect(visible(await gw.record(id))).toEqual(visible(after));
  });
});

describe('Replicate: polling still finishes a task whose webhook never came', () => {
  let emu: ReplicateEmulator;
  let gw: CallbackGateway;
  beforeAll(async () => {
    ({ emu, gw } = await setup(
      { webhooks: { enabled: false } },
      { POLL_INTERVAL_MS: '30', POLL_MAX_INTERVAL_MS: '200' },
    ));
  });
  afterAll(async () => {
    await gw?.close();
    await emu?.close();
  });

  it('succeeds through polls', async () => {
    const task = await gw.create('text-to-image', IMAGE);
    expect(createBodyOf(emu).webhook).toBe(`${gw.url}/callbacks/replicate/${String(task.id)}`);
    const done = await gw.waitTerminal(String(task.id));
    expect(done.status).toBe('succeeded');
    expect(polls(emu)).toBeGreaterThan(0);
    expect(emu.sentWebhooks()).toEqual([]);
  });
});

describe('Replicate without REPLICATE_WEBHOOK_SECRET', () => {
  let emu: ReplicateEmulator;
  let gw: CallbackGateway;
  beforeAll(async () => {
    ({ emu, gw } = await setup({}, { POLL_INTERVAL_MS: '30', POLL_MAX_INTERVAL_MS: '200' }, false));
  });
  afterAll(async () => {
    await gw?.close();
    await emu?.close();
  });

  it('asks for no webhook, takes none, and polls', async () => {
    const task = await gw.create('text-to-image', IMAGE);
    expect(createBodyOf(emu)).not.toHaveProperty('webhook');
    expect(createBodyOf(emu)).not.toHaveProperty('webhook_events_filter');
    const body = prediction('x', 'succeeded');
    const res = await gw.post(
      `/callbacks/replicate/${String(task.id)}`,
      body,
      signed(emu.webhookSecret, body),
    );
    expect(res.status).toBe(404);
    expect((await gw.waitTerminal(String(task.id))).status).toBe('succeeded');
  });
});
