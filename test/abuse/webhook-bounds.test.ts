import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_FINISHED_DELIVERIES,
  MAX_PENDING_DELIVERIES,
} from '../../src/domain/webhook-deliveries.js';
import { KEY_A, KEY_B } from '../helpers/test-app.js';
import {
  startReceiver,
  tenantSecret,
  verifyReceived,
  type Receiver,
} from '../webhooks/receiver.js';
import {
  MODEL,
  finished,
  otherTenantServed,
  startBoundsSuite,
  until,
  type BoundsSuite,
  type Json,
} from './bounds-harness.js';

/**
 * Issue 12 item 4, the webhook delivery list, over HTTP against the real app: a long Replicate
 * job (150 progress steps on the emulator, polled every 20 ms) whose `task.progress` subscriber
 * refuses one message in three. The task's delivery list stays bounded all along (read through
 * GET /v1/tasks/{id}), the stored record carries no body of a finished delivery, the terminal
 * webhook is delivered, and the other tenant's webhook comes on time.
 */

const STEPS = 150;
let g: BoundsSuite;
let rx: Receiver;
let rxB: Receiver;

beforeAll(async () => {
  rx = await startReceiver();
  rxB = await startReceiver();
  g = await startBoundsSuite({ pollsProcessing: STEPS }, { POLL_MAX_INTERVAL_MS: '20' });
});

afterAll(async () => {
  await g?.close();
  await rx?.close();
  await rxB?.close();
});

type Delivery = { id: string; event: string; status: string };
const deliveriesOf = (task: Json) => ((task.webhook as Json).deliveries ?? []) as Delivery[];

describe('a task.progress subscriber on a long job', () => {
  it('keeps the delivery list bounded and still gets the terminal webhook', async () => {
    // Refuses every third message (retried 50 ms later), takes the others.
    rx.answerNext(...Array.from({ length: 3 * STEPS }, (_, i) => (i % 3 === 2 ? 503 : 200)));
    const created = await g.call('POST', '/v1/text-to-image', KEY_A, {
      model: MODEL,
      prompt: 'a long job',
      webhook: {
        url: `${rx.url}/hooks`,
        events: ['task.running', 'task.progress', 'task.succeeded', 'task.failed'],
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    // While it runs: the list as clients see it never passes the caps.
    let most = 0;
    let mostPending = 0;
    const watching = (async () => {
      for (;;) {
        const task = (await g.call('GET', `/v1/tasks/${id}`, KEY_A)).body;
        const deliveries = deliveriesOf(task);
        most = Math.max(most, deliveries.length);
        mostPending = Math.max(
          mostPending,
          deliveries.filter((d) => d.status === 'pending').length,
        );
        if (task.status !== 'running' && task.status !== 'queued') return;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    // Meanwhile the other tenant creates, reads, lists, and gets its webhook on time.
    const doneB = await otherTenantServed(g, 5000, { webhook: { url: `${rxB.url}/b` } });
    const [gotB] = await rxB.waitFor(1, 10_000);
    expect(verifyReceived(gotB!, tenantSecret(KEY_B))).toMatchObject({
      id: doneB.id,
      status: 'succeeded',
    });
    expect(gotB!.at - Date.parse(doneB.completed_at as string)).toBeLessThan(5000);

    const done = await finished(g, id, KEY_A);
    await watching;
    expect(done.status).toBe('succeeded');

    // The terminal webhook arrives, signed, with the finished task.
    const terminal = await until(async () => {
      const task = (await g.call('GET', `/v1/tasks/${id}`, KEY_A)).body;
      const last = deliveriesOf(task).find((d) => d.event === 'task.succeeded');
      return last?.status === 'delivered' && { task, last };
    }, 'the task.succeeded webhook to be delivered');
    const sent = rx.received.filter((r) => r.headers['webhook-id'] === terminal.last.id);
    expect(sent.length).toBeGreaterThan(0);
    expect(verifyReceived(sent.at(-1)!, tenantSecret(KEY_A))).toMatchObject({
      id,
      status: 'succeeded',
    });

    // Many progress messages were sent and taken: without the cap the list would hold them all.
    const progressChanges = (await g.store.get(id))!.changeSeq;
    expect(progressChanges).toBeGreaterThan(MAX_FINISHED_DELIVERIES + MAX_PENDING_DELIVERIES);
    expect(rx.received.length).toBeGreaterThan(MAX_FINISHED_DELIVERIES + MAX_PENDING_DELIVERIES);

    const bound = MAX_FINISHED_DELIVERIES + MAX_PENDING_DELIVERIES;
    expect(most).toBeLessThanOrEqual(bound);
    expect(mostPending).toBeLessThanOrEqual(MAX_PENDING_DELIVERIES);
    const final = deliveriesOf(terminal.task);
    expect(final.filter((d) => d.status !== 'pending').length).toBeLessThanOrEqual(
      MAX_FINISHED_DELIVERIES,
    );
    // Every message keeps one id across its attempts: no id shows up under two events.
    const events = new Map<string, string>();
    for (const r of rx.received) {
      const body = JSON.parse(r.body) as Json;
      const key = String(r.headers['webhook-id']);
      const seen = `${String(body.status)}/${String(body.progress)}`;
      expect(events.get(key) ?? seen).toBe(seen);
      events.set(key, seen);
    }

    // The stored record: finished deliveries without their body, the whole record bounded.
    const stored = (await g.store.get(id))!;
    for (const d of stored.webhook!.deliveries) {
      if (d.status !== 'pending') expect(d).not.toHaveProperty('payload');
    }
    expect(JSON.stringify(stored).length).toBeLessThan(64 * 1024);
  }, 90_000);
});
