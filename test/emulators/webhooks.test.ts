import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pixverseSignature, pixverseSignedText } from '../../src/providers/pixverse/callbacks.js';
import { startModelslabEmulator } from '../../src/emulators/modelslab/server.js';
import { startPixverseEmulator } from '../../src/emulators/pixverse/server.js';
import { startReplicateEmulator } from '../../src/emulators/replicate/server.js';
import { isLoopbackUrl } from '../../src/emulators/shared/webhooks.js';

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
}

/** A loopback receiver that records every POST and answers `answer`. */
let server: Server;
let base = '';
const received: Received[] = [];
let answer = 'ok';
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => {
  received.length = 0;
  answer = 'ok';
});

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('emulator webhooks: loopback only', () => {
  it.each([
    ['http://127.0.0.1:8080/hook', true],
    ['http://127.1.2.3/hook', true],
    ['http://localhost:3000/x', true],
    ['http://[::1]:3000/x', true],
    ['https://127.0.0.1/x', true],
    ['http://10.0.0.7/hook', false],
    ['http://example.com/hook', false],
    ['http://169.254.169.254/latest', false],
    ['http://[::ffff:10.0.0.1]/x', false],
    ['ftp://127.0.0.1/x', false],
    ['not a url', false],
  ])('%s → %s', (url, ok) => {
    expect(isLoopbackUrl(url)).toBe(ok);
  });
});

describe('ModelsLab emulator webhooks', () => {
  it('POSTs the success and failed shapes with track_id, late and twice when told, never off loopback', async () => {
    const ml = await startModelslabEmulator({ webhooks: { delayMs: 100, copies: 2 } });
    try {
      const post = (body: object) =>
        fetch(`${ml.url}/api/v1/enterprise/text2img`, json({ key: 'ml-emulator-key', ...body }));
      const created = Date.now();
      await post({ prompt: 'x', webhook: `${base}/ml?token=t1`, track_id: 'task_1' });
      ml.scriptNext({ fail: 'Processing failed', afterFetches: 9, finishAfterMs: 50 });
      await post({ prompt: 'y', webhook: `${base}/ml?token=t2`, track_id: 'task_2' });
      await post({ prompt: 'z', webhook: 'http://203.0.113.9/hook', track_id: 'task_3' });
      await ml.webhooksIdle();
      await new Promise((r) => setTimeout(r, 200));
      await ml.webhooksIdle();

      const bodies = received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
      expect(bodies.filter((b) => b.track_id === 'task_1')).toHaveLength(2);
      expect(bodies.find((b) => b.track_id === 'task_1')).toMatchObject({
        status: 'success',
        output: [expect.any(String)],
      });
      expect(bodies.filter((b) => b.track_id === 'task_2')).toEqual([
        {
          status: 'failed',
          id: expect.any(Number),
          message: 'Processing failed',
          track_id: 'task_2',
        },
        {
          status: 'failed',
          id: expect.any(Number),
          message: 'Processing failed',
          track_id: 'task_2',
        },
      ]);
      expect(received.every((r) => r.at - created >= 100)).toBe(true);
      expect(received.map((r) => r.path)).toContain('/ml?token=t1');
      const refused = ml.sentWebhooks().filter((w) => w.url.startsWith('http://203.0.113.9'));
      expect(refused).toHaveLength(2);
      expect(refused.every((w) => w.status === null && w.error?.startsWith('refused'))).toBe(true);
    } finally {
      await ml.close();
    }
  });

  it('sends nothing when delivery is off, yet keeps the webhook as due', async () => {
    const ml = await startModelslabEmulator({ webhooks: { enabled: false } });
    try {
      await fetch(
        `${ml.url}/api/v1/enterprise/text2img`,
        json({ key: 'ml-emulator-key', prompt: 'x', webhook: `${base}/ml` }),
      );
      await ml.webhooksIdle();
      expect(ml.pendingWebhooks()).toHaveLength(1);
      expect(ml.sentWebhooks()).toEqual([]);
      expect(received).toEqual([]);
    } finally {
      await ml.close();
    }
  });
});

describe('Replicate emulator webhooks', () => {
  it('signs start and completed the Standard Webhooks way, honouring webhook_events_filter', async () => {
    const emu = await startReplicateEmulator({ autoAdvanceMs: 20 });
    try {
      const auth = { authorization: 'Bearer r8_emulator_token' };
      const secret = await fetch(`${emu.baseUrl}/webhooks/default/secret`, { headers: auth });
      expect(await secret.json()).toEqual({ key: emu.webhookSecret });
      expect(emu.webhookSecret).toMatch(/^whsec_/);

      const create = (body: object) =>
        fetch(`${emu.baseUrl}/models/black-forest-labs/flux-schnell/predictions`, {
          ...json(body),
          headers: { ...auth, 'content-type': 'application/json' },
        }).then((r) => r.json() as Promise<{ id: string }>);
      const all = await create({ input: { prompt: 'a' }, webhook: `${base}/all` });
      const done = await create({
        input: { prompt: 'b' },
        webhook: `${base}/completed`,
        webhook_events_filter: ['completed'],
      });
      await new Promise((r) => setTimeout(r, 300));
      await emu.webhooksIdle();

      const verifier = new Webhook(emu.webhookSecret);
      const verified = received.map((r) => ({
        path: r.path,
        body: verifier.verify(r.body, r.headers as Record<string, string>) as {
          id: string;
          status: string;
        },
      }));
      expect(
        verified.filter((v) => v.path === '/all').map((v) => [v.body.id, v.body.status]),
      ).toEqual([
        [all.id, 'processing'],
        [all.id, 'succeeded'],
      ]);
      expect(
        verified.filter((v) => v.path === '/completed').map((v) => [v.body.id, v.body.status]),
      ).toEqual([[done.id, 'succeeded']]);
    } finally {
      await emu.close();
    }
  });

  it('without autoAdvanceMs, predictions still move on polls only (and their webhooks then)', async () => {
    const emu = await startReplicateEmulator();
    try {
      const auth = {
        authorization: 'Bearer r8_emulator_token',
        'content-type': 'application/json',
      };
      const p = (await fetch(`${emu.baseUrl}/models/black-forest-labs/flux-schnell/predictions`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ input: { prompt: 'a' }, webhook: `${base}/poll` }),
      }).then((r) => r.json())) as { id: string };
      await new Promise((r) => setTimeout(r, 100));
      expect(received).toEqual([]);
      for (let i = 0; i < 3; i++)
        await fetch(`${emu.baseUrl}/predictions/${p.id}`, { headers: auth });
      await emu.webhooksIdle();
      expect(received.map((r) => JSON.parse(r.body).status)).toEqual(['processing', 'succeeded']);
    } finally {
      await emu.close();
    }
  });
});

describe('PixVerse emulator webhooks', () => {
  it('POSTs the result for a console webhook_id, signed as documented, and records the ok', async () => {
    const emu = await startPixverseEmulator({
      finishAfterMs: 30,
      webhooks: { '1234': { url: `${base}/pixverse`, secret: 'console-secret' } },
    });
    try {
      const generate = (body: object) =>
        fetch(`${emu.baseUrl}/video/text/generate`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'API-KEY': 'pixverse-emulator-key',
            'Ai-trace-id': crypto.randomUUID(),
          },
          body: JSON.stringify({
            model: 'v5',
            prompt: 'p',
            duration: 5,
            quality: '540p',
            aspect_ratio: '16:9',
            ...body,
          }),
        }).then((r) => r.json() as Promise<{ Resp: { video_id: number } }>);
      const withHook = await generate({ webhook_id: '1234' });
      emu.scriptNext('failed');
      const failing = await generate({ webhook_id: '1234' });
      await generate({ webhook_id: 'unknown-id' });
      await generate({});
      await new Promise((r) => setTimeout(r, 150));
      await emu.webhooksIdle();

      expect(received).toHaveLength(2);
      for (const r of received) {
        const h = r.headers as Record<string, string>;
        expect(h['webhook-nonce']).toMatch(/^[0-9a-f]{32}$/);
        expect(h['ai-trace-id']).toEqual(expect.any(String));
        const fields = JSON.parse(r.body) as Record<string, unknown>;
        const text = pixverseSignedText(h['webhook-timestamp']!, h['webhook-nonce']!, fields);
        expect(h['webhook-signature']).toBe(pixverseSignature('console-secret', text));
      }
      const bodies = received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
      expect(bodies).toContainEqual(
        expect.objectContaining({
          id: String(withHook.Resp.video_id),
          status: 1,
          url: expect.stringMatching(/^http/),
          has_audio: false,
        }),
      );
      expect(bodies).toContainEqual(
        expect.objectContaining({ id: String(failing.Resp.video_id), status: 8, url: '' }),
      );
      expect(emu.sentWebhooks().map((w) => [w.status, w.answer])).toEqual([
        [200, 'ok'],
        [200, 'ok'],
      ]);
    } finally {
      await emu.close();
    }
  });
});
