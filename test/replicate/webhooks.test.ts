import Replicate, { validateWebhook, type Prediction } from 'replicate';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_A, KEY_B } from '../helpers/test-app.js';
import {
  WEBHOOK_SECRET,
  startReceiver,
  until,
  type Receiver,
  type Received,
} from '../webhooks/receiver.js';
import { LAYOUTS, SD, startReplicateSuite, type ReplicateSuite } from './harness.js';

/**
 * `/replicate/v1` webhooks with the official client (architecture §6): a prediction's webhook
 * carries the prediction object, signed Standard-Webhooks style with the caller tenant's own
 * secret, which the client's `validateWebhook` accepts with the key from
 * `webhooks.default.secret.get()`; another tenant's key differs and does not verify it.
 */

let suite: ReplicateSuite | undefined;
let rx: Receiver | undefined;
afterEach(async () => {
  await suite?.close();
  await rx?.close();
  suite = undefined;
  rx = undefined;
});

async function start(prefix: string) {
  rx = await startReceiver();
  suite = await startReplicateSuite({
    prefix,
    app: {
      env: { WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' },
      webhooks: { scheduleMs: [50, 100], attemptTimeoutMs: 1000, idleMs: 50 },
    },
  });
  const address = await suite.app.listen({ port: 0, host: '127.0.0.1' });
  const client = (key: string) =>
    new Replicate({ auth: key, baseUrl: `${address}/replicate/v1`, useFileOutput: false });
  return { s: suite, rx, a: client(KEY_A), b: client(KEY_B) };
}

/** The official client's check of one received webhook with `secret`. */
const validate = (r: Received, secret: string, body = r.body) =>
  validateWebhook({
    id: String(r.headers['webhook-id']),
    timestamp: String(r.headers['webhook-timestamp']),
    signature: String(r.headers['webhook-signature']),
    body,
    secret,
  });

describe.each(LAYOUTS)('replicate webhooks (emulator at %s)', (prefix) => {
  it("`completed` arrives once, as the prediction, verified with the tenant's secret", async () => {
    const { s, rx, a, b } = await start(prefix);
    const created = await a.predictions.create({
      version: SD,
      input: { prompt: 'a lighthouse' },
      webhook: `${rx.url}/replicate?kind=completed`,
      webhook_events_filter: ['completed'],
    });
    const done = await a.wait(created, { interval: 20 });
    expect(done.status).toBe('succeeded');
    const [got] = await rx.waitFor(1);
    // Nothing more comes (no retry, no other event).
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.received).toHaveLength(1);
    expect(got!.path).toBe('/replicate?kind=completed');

    const body = JSON.parse(got!.body) as Prediction;
    expect(body).toEqual(await a.predictions.get(created.id));
    expect(body).toMatchObject({ id: created.id, status: 'succeeded', output: done.output });

    const { key } = await a.webhooks.default.secret.get();
    expect(key).toMatch(/^whsec_/);
    expect(await validate(got!, key)).toBe(true);
    expect(await validate(got!, key, got!.body.replace('a', 'b'))).toBe(false);

    // Tenant B has its own secret, which does not verify tenant A's webhooks.
    const other = await b.webhooks.default.secret.get();
    expect(other.key).not.toBe(key);
    expect(await validate(got!, other.key)).toBe(false);
    expect(await validate(got!, WEBHOOK_SECRET)).toBe(false);

    // The delivery is on the task, as on every surface.
    const task = (
      await s.inject({
        method: 'GET',
        url: `/v1/tasks/${created.id}`,
        headers: { authorization: `Bearer ${KEY_A}` },
      })
    ).json() as { webhook: { deliveries: { id: string; status: string }[] } };
    expect(task.webhook.deliveries).toEqual([
      expect.objectContaining({ id: got!.headers['webhook-id'], status: 'delivered' }),
    ]);
    expect(s.leaks()).toEqual([]);
  });

  it('no filter: every event, `start` before `completed`', async () => {
    const { rx, a } = await start(prefix);
    const created = await a.predictions.create({
      version: SD,
      input: { prompt: 'x' },
      webhook: `${rx.url}/all`,
    });
    await a.wait(created, { interval: 20 });
    const bodies = await until(async () => {
      const got = rx.received.map((r) => JSON.parse(r.body) as Prediction);
      return got.some((p) => p.status === 'succeeded') ? got : undefined;
    }, 'the completed webhook');
    expect(bodies[0]!.status).toBe('processing');
    expect(bodies.at(-1)!.status).toBe('succeeded');
    const { key } = await a.webhooks.default.secret.get();
    for (const r of rx.received) {
      expect(await validate(r, key)).toBe(true);
    }
  });
});
