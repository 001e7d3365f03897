import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSuite, type Json, type Suite } from '../modelslab/harness.js';
import { WEBHOOK_SECRET, startReceiver, until, verifyReceived, type Receiver } from './receiver.js';

/**
 * At-least-once delivery: failed attempts (HTTP errors, timeouts, refused connections) are
 * retried on the (test-sized) schedule with the same webhook-id, then given up with the
 * failure recorded on the task.
 */

const SCHEDULE_MS = [40, 80];
const ATTEMPT_TIMEOUT_MS = 300;

describe('webhook retries', () => {
  let s: Suite;
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
    s = await startSuite({
      app: {
        env: { WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' },
        webhooks: { scheduleMs: SCHEDULE_MS, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, idleMs: 50 },
      },
    });
  });
  afterAll(async () => {
    await s.close();
    await rx.close();
  });

  async function createWithWebhook(url: string): Promise<string> {
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url },
    });
    expect(res.statusCode).toBe(201);
    return res.json<Json>().id as string;
  }

  /** The task's only delivery once it is no longer pending. */
  const settledDelivery = (id: string) =>
    until(async () => {
      const task = await s.getTask(id);
      const [d] = ((task.webhook as Json | null)?.deliveries ?? []) as Json[];
      return d && d.status !== 'pending' ? d : undefined;
    }, `the webhook of ${id}`);

  it('a receiver failing twice (500, then no answer) then succeeding gets the same webhook-id three times', async () => {
    rx.answerNext(500, 'hang', 204);
    const id = await createWithWebhook(`${rx.url}/flaky`);
    const delivery = await settledDelivery(id);
    expect(delivery).toMatchObject({
      event: 'task.succeeded',
      status: 'delivered',
      attempts: 3,
      last_status: 204,
      last_error: null,
      next_attempt_at: null,
    });

    const got = rx.received.filter((r) => r.path === '/flaky');
    expect(got).toHaveLength(3);
    expect(got.map((r) => r.headers['webhook-id'])).toEqual([
      delivery.id,
      delivery.id,
      delivery.id,
    ]);
    // Every attempt is signed afresh (its own timestamp) over the same body.
    const bodies = got.map((r) => verifyReceived(r));
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    expect(bodies[0]).toMatchObject({ id, status: 'succeeded' });
    // Each retry waited at least its entry of the schedule (the second one after the timeout).
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(SCHEDULE_MS[0]! - 5);
    expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(SCHEDULE_MS[1]!);
  });

  it('a receiver that always fails: given up after the schedule, the failure on the task', async () => {
    rx.answerNext(503, 503, 500, 500);
    const id = await createWithWebhook(`${rx.url}/down`);
    const delivery = await settledDelivery(id);
    expect(delivery).toMatchObject({
      status: 'failed',
      attempts: SCHEDULE_MS.length + 1,
      last_status: 500,
      last_error: 'The receiver answered HTTP 500',
      next_attempt_at: null,
      delivered_at: null,
    });
    // Given up means given up: no further attempt.
    await new Promise((r) => setTimeout(r, 300));
    const got = rx.received.filter((r) => r.path === '/down');
    expect(got).toHaveLength(SCHEDULE_MS.length + 1);
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivery.id]));
    // The task itself stays succeeded: a webhook failure is the receiver's, not the job's.
    expect((await s.getTask(id)).status).toBe('succeeded');
  });

  it('no answer in time and a refused connection are failed attempts with a clear last_error', async () => {
    rx.answerNext('hang', 'hang', 'hang');
    const slow = await settledDelivery(await createWithWebhook(`${rx.url}/slow`));
    expect(slow).toMatchObject({
      status: 'failed',
      attempts: 3,
      last_status: null,
      last_error: `No answer within ${ATTEMPT_TIMEOUT_MS} ms`,
    });

    const closed = await startReceiver();
    const closedUrl = `${closed.url}/gone`;
    await closed.close();
    const refused = await settledDelivery(await createWithWebhook(closedUrl));
    expect(refused).toMatchObject({
      status: 'failed',
      attempts: 3,
      last_status: null,
      last_error: 'Connection refused',
    });

    rx.answerNext('drop', 'drop', 'drop');
    const dropped = await settledDelivery(await createWithWebhook(`${rx.url}/drop`));
    expect(dropped).toMatchObject({
      status: 'failed',
      attempts: 3,
      last_error: 'Connection closed by the receiver before it answered',
    });
  });

  it('leaks no secret into responses, logs or webhooks', () => {
    expect(s.leaks()).toEqual([]);
    const raw = WEBHOOK_SECRET.slice('whsec_'.length);
    const webhookText = rx.received.map((r) => JSON.stringify(r.headers) + r.body);
    const everything = [...s.captured, ...s.t.logs, ...webhookText];
    expect(everything.filter((t) => t.includes(raw))).toEqual([]);
    expect(s.t.logs.some((l) => l.includes('webhook failed'))).toBe(true);
  });
});
