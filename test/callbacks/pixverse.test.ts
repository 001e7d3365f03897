import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PixverseSettings } from '../../src/providers/pixverse/index.js';
import {
  startPixverseEmulator,
  type PixverseEmulator,
  type PixverseEmulatorOptions,
} from '../../src/emulators/pixverse/server.js';
import { startCallbackGateway, visible, type CallbackGateway, type Json } from './harness.js';

const KEY = 'pixverse-callback-test-key-0123';
const WEBHOOK_ID = 'genway-callbacks';
const SECRET = 'pv_webhook_secret_7d1f0c2b9e8a4f6d';
const VIDEO = { model: 'pixverse/v5', prompt: 'waves on a pier', duration: 5 };

async function setup(
  emulator: PixverseEmulatorOptions,
  env: Record<string, string> = {},
): Promise<{ emu: PixverseEmulator; gw: CallbackGateway }> {
  const emu = await startPixverseEmulator({ apiKeys: [KEY], pollsUntilDone: 1, ...emulator });
  const pixverse: PixverseSettings = {
    baseUrl: emu.baseUrl,
    credentials: [{ id: 'pixverse-1', secret: KEY }],
    emulated: false,
    webhookId: WEBHOOK_ID,
    webhookSecret: SECRET,
  };
  const gw = await startCallbackGateway({ pixverse }, env);
  // What an operator does in PixVerse's console once genway has its public URL.
  emu.configureWebhook(WEBHOOK_ID, { url: `${gw.url}/callbacks/pixverse`, secret: SECRET });
  return { emu, gw };
}

const polls = (emu: PixverseEmulator) =>
  emu.calls.filter((c) => c.path.includes('/video/result/')).length;

/** PixVerse's signature headers for `fields`, as documented (sorted, urlencoded fields). */
function signed(
  fields: Json,
  secret = SECRET,
  at = Date.now(),
): { body: string; headers: Record<string, string> } {
  const ts = String(Math.floor(at / 1000));
  const nonce = randomBytes(16).toString('hex');
  const form = new URLSearchParams(
    Object.keys(fields)
      .sort()
      .map((k): [string, string] => [k, String(fields[k])]),
  );
  const signature = createHmac('sha256', secret)
    .update(`${ts}\n${nonce}\n${form.toString()}`)
    .digest('base64');
  return {
    body: JSON.stringify(fields),
    headers: {
      'webhook-timestamp': ts,
      'webhook-nonce': nonce,
      'webhook-signature': signature,
      'ai-trace-id': 'trace-test',
    },
  };
}

const spread = (s: { body: string; headers: Record<string, string> }) =>
  [s.body, s.headers] as const;

const result = (id: string, status: number, extra: Json = {}): Json => ({
  id,
  status,
  url: status === 1 ? 'https://media.pixverse.ai/evil.mp4' : '',
  size: 10.5,
  has_audio: true,
  credits: 45,
  ...extra,
});

describe('PixVerse callbacks: signed webhooks finish tasks', () => {
  let emu: PixverseEmulator;
  let gw: CallbackGateway;
  beforeAll(async () => {
    ({ emu, gw } = await setup({ finishAfterMs: 500, pollsUntilDone: 1000 }));
  });
  afterAll(async () => {
    await gw?.close();
    await emu?.close();
  });

  it('sends webhook_id on creates; the webhook, not a poll, finishes the task; genway answers ok', async () => {
    const before = polls(emu);
    const task = await gw.create('text-to-video', VIDEO);
    const create = emu.calls.filter((c) => c.path.endsWith('/video/text/generate')).at(-1);
    expect(create?.body).toMatchObject({ webhook_id: WEBHOOK_ID });
    expect(task.status).toBe('running');
    const done = await gw.waitTerminal(String(task.id));
    expect(done).toMatchObject({ status: 'succeeded', upstream: { status: '1' } });
    expect(polls(emu)).toBe(before);
    await emu.webhooksIdle();
    const mine = emu
      .sentWebhooks()
      .filter((w) => JSON.parse(w.body).id === (done.upstream as Json).id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ status: 200, answer: 'ok' });
    expect(mine[0]!.headers['ai-trace-id']).toEqual(expect.any(String));
  });

  it('duplicate deliveries and late webhooks change nothing, and are still answered ok', async () => {
    emu.webhookDelivery({ copies: 3 });
    try {
      const task = await gw.create('text-to-video', VIDEO);
      const id = String(task.id);
      await gw.waitTerminal(id);
      await emu.webhooksIdle();
      const done = await gw.record(id);
      const sent = emu.sentWebhooks().filter((w) => JSON.parse(w.body).id === done.upstreamId);
      expect(sent.map((w) => [w.status, w.answer])).toEqual([
        [200, 'ok'],
        [200, 'ok'],
        [200, 'ok'],
      ]);
      expect(done.changes.filter((c) => c.status === 'succeeded')).toHaveLength(1);
      for (const late of [5, 8, 7]) {
        const { body, headers } = signed(result(done.upstreamId!, late));
        const res = await gw.post('/callbacks/pixverse', body, headers);
        expect([res.status, res.text], String(late)).toEqual([200, 'ok']);
        expect(res.type).toContain('text/plain');
      }
      expect(visible(await gw.record(id))).toEqual(visible(done));
    } finally {
      emu.webhookDelivery({ copies: 1 });
    }
  });

  it('a failed webhook (moderation) fails the task', async () => {
    emu.scriptNext('moderation');
    const task = await gw.create('text-to-video', VIDEO);
    const done = await gw.waitTerminal(String(task.id));
    expect(done).toMatchObject({ status: 'failed', error: { code: 'moderation_failed' } });
  });

  it('forged upstream callbacks are rejected and change nothing', async () => {
    emu.scriptNext({ status: 1, afterMs: 60_000 });
    const task = await gw.create('text-to-video', VIDEO);
    const id = String(task.id);
    const before = visible(await gw.record(id));
    const video = before.upstreamId!;
    const good = signed(result(video, 1));
    const attempts: [string, string, Record<string, string>, number][] = [
      ['no signature headers', good.body, {}, 401],
      [
        'signed with another secret',
        signed(result(video, 1), 'not-the-secret').body,
        signed(result(video, 1), 'not-the-secret').headers,
        401,
      ],
      ['body changed after signing', good.body.replace('evil', 'other'), good.headers, 401],
      ['another nonce', good.body, { ...good.headers, 'webhook-nonce': 'f'.repeat(32) }, 401],
      [
        'signature not base64 of 32 bytes',
        good.body,
        { ...good.headers, 'webhook-signature': 'abc' },
        401,
      ],
      [
        'timestamp 6 minutes old',
        ...spread(signed(result(video, 1), SECRET, Date.now() - 360_000)),
        401,
      ],
      ['not JSON', 'id=1&status=1', good.headers, 401],
      ['unknown video', ...spread(signed(result('999999999999', 1))), 404],
      ['no video id', ...spread(signed({ status: 1, url: 'x' })), 400],
    ];
    for (const [what, body, headers, status] of attempts) {
      const res = await gw.post('/callbacks/pixverse', body, headers);
      expect(res.status, what).toBe(status);
      expect(res.type, what).toContain('application/problem+json');
      expect(res.text, what).not.toContain(SECRET);
    }
    expect(visible(await gw.record(id))).toEqual(before);
  });
});

describe('PixVerse: polling still finishes a task whose webhook never came', () => {
  let emu: PixverseEmulator;
  let gw: CallbackGateway;
  beforeAll(async () => {
    ({ emu, gw } = await setup(
      { webhookDelivery: { enabled: false } },
      { POLL_INTERVAL_MS: '30', POLL_MAX_INTERVAL_MS: '200' },
    ));
  });
  afterAll(async () => {
    await gw?.close();
    await emu?.close();
  });

  it('succeeds through polls', async () => {
    const task = await gw.create('text-to-video', VIDEO);
    const done = await gw.waitTerminal(String(task.id));
    expect(done.status).toBe('succeeded');
    expect(polls(emu)).toBeGreaterThanOrEqual(2);
    expect(emu.sentWebhooks()).toEqual([]);
  });
});
