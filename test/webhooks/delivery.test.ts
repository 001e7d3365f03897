import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth } from '../helpers/test-app.js';
import { startSuite, type Json, type Suite } from '../modelslab/harness.js';
import { WEBHOOK_SECRET, startReceiver, tenantSecret, type Receiver } from './receiver.js';

/**
 * Client webhooks through the real app against the ModelsLab emulator, to a node:http receiver
 * on 127.0.0.1 (allow-listed): Standard Webhooks signature checked with the library's own
 * verifier, the body is the task, and the delivery is visible on the task.
 */

describe('webhook delivery', () => {
  let s: Suite;
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
    s = await startSuite({
      app: {
        env: { WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' },
        webhooks: { scheduleMs: [50, 100], attemptTimeoutMs: 1000, idleMs: 50 },
      },
    });
  });
  afterAll(async () => {
    await s.close();
    await rx.close();
  });

  /** The task once its webhook has no pending delivery left. */
  async function settled(id: string, timeoutMs = 10_000): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await s.getTask(id);
      const deliveries = ((task.webhook as Json | null)?.deliveries ?? []) as Json[];
      const terminal = ['succeeded', 'failed', 'canceled'].includes(task.status as string);
      if (terminal && deliveries.length > 0 && deliveries.every((d) => d.status !== 'pending')) {
        return task;
      }
      if (Date.now() > deadline) throw new Error(`webhook of ${id} still pending`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('POSTs the finished task, signed the Standard Webhooks way, and shows it delivered', async () => {
    const before = rx.received.length;
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'a lighthouse',
      metadata: { order: '42' },
      webhook: { url: `${rx.url}/hooks/genway?source=test` },
    });
    expect(res.statusCode).toBe(201);
    const id = res.json<Json>().id as string;
    const task = await settled(id);

    const [got] = (await rx.waitFor(before + 1)).slice(before);
    expect(got).toBeDefined();
    expect(got!.method).toBe('POST');
    expect(got!.path).toBe('/hooks/genway?source=test');
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['user-agent']).toBe('genway');
    expect(got!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const timestamp = Number(got!.headers['webhook-timestamp']);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(60);

    // Signed with the tenant's own secret (architecture §6), the one GET /v1/webhooks/secret
    // answers it; WEBHOOK_SECRET itself, from which it is derived, does not verify.
    // (Through the app itself: the suite's own capture would count the answer as a leak.)
    const secret = await s.app.inject({
      method: 'GET',
      url: '/v1/webhooks/secret',
      headers: auth(),
    });
    expect(secret.statusCode).toBe(200);
    const key = secret.json<{ key: string }>().key;
    expect(key).toBe(tenantSecret());
    expect(key).not.toBe(WEBHOOK_SECRET);
    expect(() =>
      new Webhook(WEBHOOK_SECRET).verify(got!.body, {
        'webhook-id': got!.headers['webhook-id'] as string,
        'webhook-timestamp': got!.headers['webhook-timestamp'] as string,
        'webhook-signature': got!.headers['webhook-signature'] as string,
      }),
    ).toThrow();
    // The library's verifier: recomputes the HMAC over the raw body and checks the timestamp.
    const verified = new Webhook(key).verify(got!.body, {
      'webhook-id': got!.headers['webhook-id'] as string,
      'webhook-timestamp': got!.headers['webhook-timestamp'] as string,
      'webhook-signature': got!.headers['webhook-signature'] as string,
    });
    // A tampered body or another secret fails.
    expect(() =>
      new Webhook(key).verify(got!.body.replace('succeeded', 'failed'), {
        'webhook-id': got!.headers['webhook-id'] as string,
        'webhook-timestamp': got!.headers['webhook-timestamp'] as string,
        'webhook-signature': got!.headers['webhook-signature'] as string,
      }),
    ).toThrow();
    expect(() =>
      new Webhook('whsec_bm90LXRoZS1zZWNyZXQtYXQtYWxsLTAxMjM=').verify(got!.body, {
        'webhook-id': got!.headers['webhook-id'] as string,
        'webhook-timestamp': got!.headers['webhook-timestamp'] as string,
        'webhook-signature': got!.headers['webhook-signature'] as string,
      }),
    ).toThrow();

    // The body is the task as it was when it succeeded (delivery bookkeeping left out).
    expect(verified).toEqual({ ...task, webhook: null });
    expect(verified).toMatchObject({
      id,
      object: 'task',
      status: 'succeeded',
      metadata: { order: '42' },
      error: null,
    });
    const outputs = (verified as Json).outputs as Json[];
    expect(outputs.length).toBeGreaterThan(0);
    expect(outputs[0]).toMatchObject({ content_type: 'image/png' });

    // Visible on the task: one delivery, its id the webhook-id, delivered at the first attempt.
    const deliveries = (task.webhook as Json).deliveries as Json[];
    expect(deliveries).toEqual([
      {
        id: got!.headers['webhook-id'],
        event: 'task.succeeded',
        status: 'delivered',
        attempts: 1,
        last_status: 200,
        last_error: null,
        next_attempt_at: null,
        delivered_at: expect.any(String),
      },
    ]);
    expect(deliveries[0]!.id).toMatch(/^msg_/);
    // The receiver got it exactly once (nothing left to retry).
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.received.filter((r) => r.headers['webhook-id'] === deliveries[0]!.id)).toHaveLength(
      1,
    );
  });

  it('sends only the events asked for: task.running only when listed, in order of creation', async () => {
    // Default events: the running phase sends nothing, the success one message.
    s.emu.scriptNext({ processing: 2, eta: 0 });
    const plain = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url: `${rx.url}/plain` },
    });
    expect(plain.json<Json>().status).toBe('running');
    const plainTask = await settled(plain.json<Json>().id as string);
    expect(((plainTask.webhook as Json).deliveries as Json[]).map((d) => d.event)).toEqual([
      'task.succeeded',
    ]);

    // Asking for task.running too: two messages with their own ids, running first.
    s.emu.scriptNext({ processing: 2, eta: 0 });
    const asked = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url: `${rx.url}/asked`, events: ['task.running', 'task.succeeded'] },
    });
    const askedTask = await settled(asked.json<Json>().id as string);
    const deliveries = (askedTask.webhook as Json).deliveries as Json[];
    expect(deliveries.map((d) => [d.event, d.status])).toEqual([
      ['task.running', 'delivered'],
      ['task.succeeded', 'delivered'],
    ]);
    expect(deliveries[0]!.id).not.toBe(deliveries[1]!.id);

    const atPath = (p: string) => rx.received.filter((r) => r.path === p);
    expect(atPath('/plain').map((r) => (JSON.parse(r.body) as Json).status)).toEqual(['succeeded']);
    const asks = atPath('/asked');
    expect(asks.map((r) => r.headers['webhook-id'])).toEqual(deliveries.map((d) => d.id));
    expect(asks.map((r) => (JSON.parse(r.body) as Json).status)).toEqual(['running', 'succeeded']);
  });

  it('a failed task sends task.failed with the error', async () => {
    s.emu.scriptNext({ fail: 'NSFW content detected', afterFetches: 1 });
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url: `${rx.url}/failed` },
    });
    const task = await settled(res.json<Json>().id as string);
    expect(task.status).toBe('failed');
    const [delivery] = (task.webhook as Json).deliveries as Json[];
    expect(delivery).toMatchObject({ event: 'task.failed', status: 'delivered', attempts: 1 });
    const got = rx.received.find((r) => r.headers['webhook-id'] === delivery!.id);
    expect(JSON.parse(got!.body)).toMatchObject({ status: 'failed', error: task.error });
  });

  it('leaks no secret into responses, logs or webhooks', () => {
    const webhookText = rx.received.map((r) => JSON.stringify(r.headers) + r.body);
    expect(s.leaks()).toEqual([]);
    expect(s.secrets()).toContain(WEBHOOK_SECRET);
    const raw = WEBHOOK_SECRET.slice('whsec_'.length);
    const everything = [...s.captured, ...s.t.logs, ...webhookText];
    expect(everything.filter((t) => t.includes(raw) || t.includes('ml-upstream-key'))).toEqual([]);
  });
});
