import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
} from '../../src/emulators/replicate/server.js';
import type { ReplicateSettings } from '../../src/providers/replicate/index.js';
import { startCallbackGateway, type CallbackGateway, type Json } from '../callbacks/harness.js';
import { ML_KEYS, startSuite, type Suite } from '../modelslab/harness.js';

/**
 * Issue 12 item 8: what an upstream sends is bounded and scrubbed before genway keeps it
 * (ModelsLab failure texts), and a Replicate webhook as large as the answers Replicate echoes
 * (data: URIs in `input`) is taken, while one past the limit is refused before it is read.
 */

describe('a ModelsLab failure text is scrubbed and bounded', () => {
  let s: Suite;
  beforeAll(async () => {
    s = await startSuite();
  });
  afterAll(() => s?.close());

  it('the task error holds neither the key nor a signed URL token, and stays short', async () => {
    const token = 'tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
    const text =
      `Generation failed for key ${ML_KEYS[0]}: see ` +
      `https://cdn.modelslab.com/generations/x.png?X-Amz-Signature=${token}&expires=1 ` +
      'x'.repeat(100_000);
    s.emu.scriptNext({ fail: text });
    const created = await s.create('text-to-image', { model: 'modelslab', prompt: 'a kite' });
    expect(created.statusCode).toBe(201);
    const task = await s.waitDone(created.json<Json>().id as string);
    expect(task.status).toBe('failed');
    const error = task.error as { code: string; message: string };
    expect(error.code).toBe('upstream_rejected');
    expect(error.message).toContain('Generation failed for key');
    expect(error.message).toContain('https://cdn.modelslab.com/generations/x.png');
    expect(error.message.length).toBeLessThanOrEqual(1000);
    const seen = JSON.stringify(task);
    expect(seen).not.toContain(ML_KEYS[0]);
    expect(seen).not.toContain(token);
    expect(s.t.logs.join('\n')).not.toContain(token);
    expect(s.leaks()).toEqual([]);
  });
});

describe('Replicate webhook bodies: as large as an answer, no larger', () => {
  const TOKEN = 'r8_callback_size_token_1a2b3c4d5e6f';
  const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
  const IMAGE = { model: `replicate/stability-ai/stable-diffusion:${SD}`, prompt: 'a red fox' };
  let emu: ReplicateEmulator;
  let gw: CallbackGateway;

  beforeAll(async () => {
    // No polls advance the prediction: only the webhook below can finish the task.
    emu = await startReplicateEmulator({ tokens: [TOKEN], timeScale: 0.01, pollsStarting: 1e6 });
    const replicate: ReplicateSettings = {
      baseUrl: emu.baseUrl,
      credentials: [{ id: 'replicate-1', secret: TOKEN }],
      emulated: true,
      models: [],
      webhookSecrets: [emu.webhookSecret],
    };
    gw = await startCallbackGateway({ replicate });
  });
  afterAll(async () => {
    await gw?.close();
    await emu?.close();
  });

  function signed(body: string): Record<string, string> {
    const id = `msg_${randomBytes(8).toString('hex')}`;
    const at = new Date();
    return {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(emu.webhookSecret).sign(id, at, body),
    };
  }

  it('a 5 MB signed webhook (a data: URI echoed in input) is taken and finishes the task', async () => {
    const created = await gw.create('text-to-image', IMAGE);
    const id = String(created.id);
    const upstreamId = (await gw.record(id)).upstreamId!;
    const image = `data:image/png;base64,${Buffer.alloc(3_900_000, 7).toString('base64')}`;
    const body = JSON.stringify({
      id: upstreamId,
      version: SD,
      input: { prompt: 'a red fox', image },
      output: ['https://replicate.delivery/pbxt/abc/out-0.png'],
      error: null,
      status: 'succeeded',
      created_at: new Date().toISOString(),
      urls: {},
    });
    expect(body.length).toBeGreaterThan(5_000_000);
    const res = await gw.post(`/callbacks/replicate/${id}`, body, signed(body));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ received: true, applied: true });
    const task = await gw.waitTerminal(id);
    expect(task).toMatchObject({ status: 'succeeded', upstream: { id: upstreamId } });
    expect(task.outputs).toEqual([
      expect.objectContaining({ url: 'https://replicate.delivery/pbxt/abc/out-0.png' }),
    ]);
  });

  it('a body announced past the limit (40 MB) is a 413 problem before it is sent', async () => {
    const created = await gw.create('text-to-image', IMAGE);
    const id = String(created.id);
    const { port } = new URL(gw.url);
    const sentAtMost = 64 * 1024;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          `POST /callbacks/replicate/${id} HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
            `content-type: application/json\r\ncontent-length: ${40 * 1024 * 1024}\r\n\r\n`,
        );
        // A first part only: the answer must not wait for the other 40 MB.
        socket.write(Buffer.alloc(sentAtMost, 0x20));
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        // The whole problem body has arrived: done, whatever the server does with the socket.
        if (/\r\n\r\n[\s\S]*\}$/.test(text)) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/content-type: application\/problem\+json/i);
    expect(answer).toContain('"status":413');
    // The task is untouched: still waiting for Replicate.
    expect((await gw.record(id)).status).not.toBe('succeeded');
  });
});
