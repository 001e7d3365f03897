import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_B, auth } from '../helpers/test-app.js';
import { startSuite, type Json, type Suite } from '../modelslab/harness.js';
import { WEBHOOK_SECRET, startReceiver, until, type Receiver } from './receiver.js';

/**
 * Issue 12 item 2: tenant A's receiver hangs on every request; tenant B's webhook for a task
 * that finishes meanwhile still arrives within a second, the app keeps answering, and A's
 * deliveries are retried later.
 */

const ATTEMPT_TIMEOUT_MS = 3000;
const image = { model: 'modelslab/sdxl', prompt: 'a lighthouse' };

describe('a hanging receiver of one tenant', () => {
  let s: Suite;
  let slowA: Receiver;
  let fastB: Receiver;
  beforeAll(async () => {
    slowA = await startReceiver();
    slowA.fallback = 'hang';
    fastB = await startReceiver();
    s = await startSuite({
      app: {
        env: { WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' },
        webhooks: { scheduleMs: [100, 100, 100], attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
      },
    });
  });
  afterAll(async () => {
    await s.close();
    await slowA.close();
    await fastB.close();
  });

  it("does not delay another tenant's webhook; its own are retried later", async () => {
    // Tenant A: ten finished tasks whose webhooks all go to the receiver that never answers.
    for (let i = 0; i < 10; i++) {
      const res = await s.create('text-to-image', {
        ...image,
        webhook: { url: `${slowA.url}/a/${i}` },
      });
      expect(res.statusCode).toBe(201);
    }
    // A's receiver is busy with them (hanging) before B's task exists.
    await slowA.waitFor(1);

    const created = await s.create(
      'text-to-image',
      { ...image, webhook: { url: `${fastB.url}/b` } },
      auth(KEY_B),
    );
    expect(created.statusCode).toBe(201);
    const task = created.json<Json>();
    expect(task.status).toBe('succeeded');
    const finishedAt = Date.parse(task.completed_at as string);
    const [got] = await fastB.waitFor(1, 5000);
    expect(got!.at - finishedAt).toBeLessThan(1000);
    expect(JSON.parse(got!.body)).toMatchObject({ id: task.id, status: 'succeeded' });

    // The app still answers (health and reads) while A's receiver holds its attempts.
    expect((await s.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await s.inject({ method: 'GET', url: '/v1/tasks', headers: auth() })).statusCode).toBe(
      200,
    );

    // A's deliveries are not dropped: each times out and is attempted again with its webhook-id.
    await until(
      async () => {
        const ids = slowA.received.map((r) => r.headers['webhook-id']);
        return ids.some((id, i) => ids.indexOf(id) !== i);
      },
      "a second attempt of one of A's webhooks",
      3 * ATTEMPT_TIMEOUT_MS,
    );
    const list = await s.inject({ method: 'GET', url: '/v1/tasks?limit=20', headers: auth() });
    const retried = list
      .json<{ data: Json[] }>()
      .data.flatMap((t) => ((t.webhook as Json).deliveries as Json[]) ?? [])
      .filter((d) => (d.attempts as number) >= 1);
    expect(retried.length).toBeGreaterThan(0);
    expect(retried[0]).toMatchObject({ status: 'pending', last_error: expect.any(String) });
  });
});
