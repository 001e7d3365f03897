import { describe, expect, it } from 'vitest';
import type { WebhookDelivery, WebhookEvent } from './task-record.js';
import {
  MAX_FINISHED_DELIVERIES,
  MAX_PENDING_DELIVERIES,
  boundedDeliveries,
  withNewDeliveries,
} from './webhook-deliveries.js';

let n = 0;
const NOW = 1000;
const delivery = (
  event: WebhookEvent,
  status: WebhookDelivery['status'] = 'pending',
): WebhookDelivery => ({
  id: `msg_${++n}`,
  event,
  payload: { big: 'x'.repeat(1000) },
  status,
  attempts: status === 'pending' ? 0 : 1,
  nextAttemptAt: status === 'pending' ? 0 : null,
  lastStatus: null,
  lastError: null,
  deliveredAt: null,
});

describe('withNewDeliveries', () => {
  it('replaces a pending progress message by a newer progress or terminal one', () => {
    const running = delivery('task.running');
    const p1 = delivery('task.progress');
    const p2 = delivery('task.progress');
    const afterP2 = withNewDeliveries([running, p1], [p2], NOW);
    expect(afterP2.map((d) => d.id)).toEqual([running.id, p2.id]);
    const done = delivery('task.succeeded');
    expect(withNewDeliveries(afterP2, [done], NOW).map((d) => d.id)).toEqual([running.id, done.id]);
  });

  it('keeps a delivered progress message (as a summary without its body)', () => {
    const p1 = delivery('task.progress', 'delivered');
    const p2 = delivery('task.progress');
    const list = withNewDeliveries([p1], [p2], NOW);
    expect(list.map((d) => d.id)).toEqual([p1.id, p2.id]);
    expect(list[0]).not.toHaveProperty('payload');
    expect(list[1]?.payload).toEqual(p2.payload);
  });

  it('keeps the list bounded over thousands of progress changes', () => {
    let list: WebhookDelivery[] = [];
    for (let i = 0; i < 5000; i++) {
      // Every other message is delivered before the next change: both paths grow the list.
      list = withNewDeliveries(list, [delivery('task.progress')], NOW);
      if (i % 2 === 0) {
        list = boundedDeliveries(
          list.map((d) => (d.status === 'pending' ? { ...d, status: 'delivered' } : d)),
        );
      }
    }
    // At most: the one that may be on its way, the latest, and the last finished ones.
    expect(list.length).toBeLessThanOrEqual(MAX_FINISHED_DELIVERIES + 2);
    expect(list.filter((d) => d.status === 'pending').length).toBeLessThanOrEqual(2);
  });

  it('keeps the first pending message while it may be on its way, not while it waits a retry', () => {
    const head = delivery('task.progress');
    const next = delivery('task.progress');
    const due = withNewDeliveries([head], [next], NOW);
    expect(due.map((d) => d.id)).toEqual([head.id, next.id]);
    const waiting = { ...head, attempts: 1, nextAttemptAt: NOW + 5000 };
    expect(withNewDeliveries([waiting], [next], NOW).map((d) => d.id)).toEqual([next.id]);
  });
});

describe('boundedDeliveries', () => {
  it('drops the oldest pending non-terminal messages past the cap, never a terminal one', () => {
    const done = delivery('task.failed');
    const running = Array.from({ length: MAX_PENDING_DELIVERIES + 5 }, () =>
      delivery('task.running'),
    );
    const list = boundedDeliveries([done, ...running]);
    expect(list).toHaveLength(MAX_PENDING_DELIVERIES);
    expect(list[0]).toBe(done);
    expect(list.at(-1)).toBe(running.at(-1));
  });

  it('keeps the most recent finished deliveries, in order', () => {
    const finished = Array.from({ length: 50 }, () => delivery('task.progress', 'failed'));
    const list = boundedDeliveries(finished);
    expect(list.map((d) => d.id)).toEqual(
      finished.slice(-MAX_FINISHED_DELIVERIES).map((d) => d.id),
    );
  });
});
