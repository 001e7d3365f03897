import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebhookMessage, WebhookSender } from '../../src/domain/ports.js';
import type { Task } from '../../src/contracts/task.js';
import type { TaskRecord, WebhookDelivery, WebhookEvent } from '../../src/domain/task-record.js';
import { WebhookDispatcher } from '../../src/domain/webhook-dispatcher.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { until } from './receiver.js';

/**
 * The dispatcher against the memory store and a scripted sender: compare-and-set merges with
 * concurrent writers, order within a task, the schedule, and shutdown mid-attempt.
 */

const logger = pino({ level: 'silent' });
let n = 0;

function delivery(event: WebhookEvent, at = Date.now()): WebhookDelivery {
  const id = `msg_test_${++n}`;
  return {
    id,
    event,
    payload: { id: 'task_x', status: 'succeeded' } as Task,
    status: 'pending',
    attempts: 0,
    nextAttemptAt: at,
    lastStatus: null,
    lastError: null,
    deliveredAt: null,
  };
}

function task(deliveries: WebhookDelivery[]): TaskRecord {
  const now = Date.now();
  return {
    id: `task_test_${++n}`,
    tenant: 't',
    type: 'text-to-image',
    model: 'modelslab/sdxl',
    provider: 'modelslab',
    status: 'succeeded',
    progress: 1,
    outputs: [],
    error: null,
    upstreamId: '1',
    upstreamStatus: 'success',
    metadata: {},
    createdAt: now,
    updatedAt: now,
    completedAt: now,
    credentialId: 'c',
    upstreamState: {},
    nextPollAt: null,
    pollAttempts: 3,
    lastContactAt: now,
    version: 1,
    changeSeq: 1,
    changes: [],
    webhook: { url: 'http://127.0.0.1:9/hook', events: ['task.succeeded'], deliveries },
    nextWebhookAt: Math.min(...deliveries.map((d) => d.nextAttemptAt ?? Infinity)),
  };
}

type Script = (message: WebhookMessage, signal?: AbortSignal) => Promise<{ status: number }>;

/** A sender that records every attempt and answers with `script`. */
function scripted(script: Script): WebhookSender & { sent: WebhookMessage[] } {
  const sent: WebhookMessage[] = [];
  return {
    sent,
    send: (_url, message, signal) => {
      sent.push(message);
      return script(message, signal);
    },
  };
}

const running: WebhookDispatcher[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop();
});

function start(store: MemoryTaskStore, sender: WebhookSender, scheduleMs = [20, 40]) {
  const d = new WebhookDispatcher(store, sender, logger, { scheduleMs, idleMs: 20, leaseMs: 5000 });
  running.push(d);
  d.start();
  return d;
}

const stored = async (store: MemoryTaskStore, id: string) => (await store.get(id))!;

describe('WebhookDispatcher', () => {
  it('merges its outcome into a record another writer changed meanwhile, counting once', async () => {
    const store = new MemoryTaskStore();
    const t = task([delivery('task.running')]);
    await store.insert(t);
    const late = delivery('task.progress');
    const sender = scripted(async () => {
      if (sender.sent.length > 1) return { status: 200 };
      // While the first attempt is in flight, "the poller" writes: another field, and a new
      // delivery (as TaskService does on a change).
      const cur = await stored(store, t.id);
      const ok = await store.update({
        ...cur,
        pollAttempts: cur.pollAttempts + 1,
        webhook: { ...cur.webhook!, deliveries: [...cur.webhook!.deliveries, late] },
        version: cur.version + 1,
      });
      expect(ok).toBe(true);
      return { status: 200 };
    });
    start(store, sender);
    const done = await until(async () => {
      const r = await stored(store, t.id);
      return r.webhook!.deliveries.every((d) => d.status === 'delivered') ? r : undefined;
    }, 'both deliveries');
    // The concurrent write survived, each delivery was sent and counted once, in order.
    expect(done.pollAttempts).toBe(t.pollAttempts + 1);
    expect(done.webhook!.deliveries.map((d) => [d.id, d.attempts, d.lastStatus])).toEqual([
      [t.webhook!.deliveries[0]!.id, 1, 200],
      [late.id, 1, 200],
    ]);
    expect(sender.sent.map((m) => m.id)).toEqual([t.webhook!.deliveries[0]!.id, late.id]);
    expect(done.nextWebhookAt).toBeNull();
  });

  it('keeps the order of one task: a later delivery waits while an earlier one is pending', async () => {
    const store = new MemoryTaskStore();
    const first = delivery('task.running');
    const second = delivery('task.succeeded');
    const t = task([first, second]);
    await store.insert(t);
    let calls = 0;
    const sender = scripted(async () => ({ status: ++calls <= 2 ? 500 : 200 }));
    start(store, sender);
    await until(async () => {
      const r = await stored(store, t.id);
      return r.webhook!.deliveries.every((d) => d.status === 'delivered');
    }, 'both delivered');
    expect(sender.sent.map((m) => m.id)).toEqual([first.id, first.id, first.id, second.id]);
    // The body sent is the stored payload, as JSON text.
    expect(JSON.parse(sender.sent[0]!.body)).toEqual(first.payload);
  });

  it('gives up after the schedule, keeping the last status and error; nothing is due then', async () => {
    const store = new MemoryTaskStore();
    const t = task([delivery('task.succeeded')]);
    await store.insert(t);
    let calls = 0;
    const sender = scripted(async () => {
      if (++calls === 3) throw new Error('Connection refused');
      return { status: 502 };
    });
    start(store, sender, [10, 20]);
    const d = await until(async () => {
      const r = await stored(store, t.id);
      return r.webhook!.deliveries[0]!.status === 'failed' ? r : undefined;
    }, 'given up');
    expect(d.webhook!.deliveries[0]).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastStatus: null,
      lastError: 'Connection refused',
      nextAttemptAt: null,
    });
    expect(d.nextWebhookAt).toBeNull();
    expect(await store.nextWebhookDueAt()).toBeNull();
  });

  it('a retry waits its turn: the attempt time is on the delivery and on the task', async () => {
    const store = new MemoryTaskStore();
    const t = task([delivery('task.succeeded')]);
    await store.insert(t);
    const sender = scripted(async () => ({ status: 500 }));
    start(store, sender, [60_000]);
    const r = await until(async () => {
      const cur = await stored(store, t.id);
      return cur.webhook!.deliveries[0]!.attempts === 1 && cur.nextWebhookAt! > Date.now() + 1000
        ? cur
        : undefined;
    }, 'first attempt recorded');
    const d = r.webhook!.deliveries[0]!;
    expect(d).toMatchObject({ status: 'pending', lastStatus: 500 });
    expect(d.lastError).toBe('The receiver answered HTTP 500');
    expect(r.nextWebhookAt).toBe(d.nextAttemptAt);
    expect(d.nextAttemptAt! - Date.now()).toBeGreaterThan(50_000);
  });

  it('stop() aborts an attempt in flight without counting it, and leaves it due', async () => {
    const store = new MemoryTaskStore();
    const t = task([delivery('task.succeeded')]);
    await store.insert(t);
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const sender = scripted(
      (_m, signal) =>
        new Promise((_resolve, reject) => {
          started();
          signal?.addEventListener('abort', () => reject(signal.reason as Error));
        }),
    );
    const d = start(store, sender);
    await inFlight;
    await d.stop();
    const r = await stored(store, t.id);
    expect(r.webhook!.deliveries[0]).toMatchObject({ status: 'pending', attempts: 0 });
    expect(r.nextWebhookAt).not.toBeNull();
    expect(r.nextWebhookAt!).toBeLessThanOrEqual(Date.now());
    expect(sender.sent).toHaveLength(1);
  });

  it('never goes back: an outcome for a delivery someone else already recorded is dropped', async () => {
    const store = new MemoryTaskStore();
    const t = task([delivery('task.succeeded')]);
    await store.insert(t);
    const sender = scripted(async () => {
      // Another process delivered it meanwhile (e.g. after a lease ran out).
      const cur = await stored(store, t.id);
      const [d] = cur.webhook!.deliveries;
      await store.update({
        ...cur,
        webhook: {
          ...cur.webhook!,
          deliveries: [
            { ...d!, status: 'delivered', attempts: 1, deliveredAt: 1, lastStatus: 204 },
          ],
        },
        version: cur.version + 1,
      });
      return { status: 500 };
    });
    start(store, sender);
    await new Promise((r) => setTimeout(r, 150));
    const r = await stored(store, t.id);
    expect(r.webhook!.deliveries[0]).toMatchObject({
      status: 'delivered',
      attempts: 1,
      lastStatus: 204,
    });
    expect(r.nextWebhookAt).toBeNull();
    expect(sender.sent).toHaveLength(1);
  });

  it("caps one tenant's attempts in flight; another tenant's task is delivered meanwhile", async () => {
    const store = new MemoryTaskStore();
    const slow = [1, 2, 3].map(() => task([delivery('task.succeeded')]));
    const other = { ...task([delivery('task.succeeded')]), tenant: 'u' };
    for (const t of [...slow, other]) await store.insert(t);
    const hanging = new Set(slow.flatMap((t) => t.webhook!.deliveries.map((d) => d.id)));
    let inFlight = 0;
    let most = 0;
    const sender = scripted(async (message, signal) => {
      if (!hanging.has(message.id)) return { status: 200 };
      inFlight++;
      most = Math.max(most, inFlight);
      // Hangs until stop() aborts it.
      await new Promise((_, reject) =>
        signal?.addEventListener('abort', () => reject(new Error('stop'))),
      );
      return { status: 200 };
    });
    const d = new WebhookDispatcher(store, sender, logger, {
      scheduleMs: [20],
      idleMs: 20,
      leaseMs: 5000,
      perTenantConcurrency: 2,
      tenantBusyDeferMs: 30,
    });
    running.push(d);
    d.start();
    await until(async () => {
      const r = await stored(store, other.id);
      return r.webhook!.deliveries[0]!.status === 'delivered';
    }, "the other tenant's delivery");
    await new Promise((r) => setTimeout(r, 150));
    expect(most).toBe(2);
    // The third task of the capped tenant was put back, not attempted, and is still due.
    const attempted = new Set(sender.sent.map((m) => m.id));
    const waiting = slow.filter((t) => !attempted.has(t.webhook!.deliveries[0]!.id));
    expect(waiting).toHaveLength(1);
    expect((await stored(store, waiting[0]!.id)).nextWebhookAt).not.toBeNull();
  });
});
