import type { WebhookDelivery, WebhookEvent } from './task-record.js';

/**
 * The delivery list on a task record is bounded: a `task.progress` subscriber on a long job
 * would otherwise add one message (with a whole task as its body) per progress change, and
 * every write of the record would carry them all.
 */

/** Finished (delivered or failed) deliveries kept on the task, the most recent ones. */
export const MAX_FINISHED_DELIVERIES = 20;
/**
 * Pending deliveries kept at most. Progress messages are coalesced (see `withNewDeliveries`),
 * so a task has a few at most (running, the latest progress, its terminal event); this only
 * guards status changes that repeat. Terminal events are never dropped.
 */
export const MAX_PENDING_DELIVERIES = 8;

const TERMINAL_EVENTS: ReadonlySet<WebhookEvent> = new Set([
  'task.succeeded',
  'task.failed',
  'task.canceled',
]);

/** Whether `newer` carries a later state of the task than a pending `task.progress` would. */
const supersedesProgress = (newer: WebhookDelivery) =>
  newer.event === 'task.progress' || TERMINAL_EVENTS.has(newer.event);

/**
 * `existing` followed by `added` (new pending messages, in order), at `now`. A pending
 * `task.progress` message is dropped when a newer progress or terminal message is added: a
 * receiver wants the latest state, not every step (its id is never sent again, so no retry
 * changes id). Except the one that may be on its way: the dispatcher sends a task's first
 * pending message only, and only once it is due.
 */
export function withNewDeliveries(
  existing: readonly WebhookDelivery[],
  added: readonly WebhookDelivery[],
  now: number,
): WebhookDelivery[] {
  if (!added.some(supersedesProgress)) return boundedDeliveries([...existing, ...added]);
  const sending = mayBeSending(existing, now);
  const kept = existing.filter(
    (d) => d === sending || !(d.status === 'pending' && d.event === 'task.progress'),
  );
  return boundedDeliveries([...kept, ...added]);
}

/** The delivery an attempt may be under way for: the first pending one, if due. */
function mayBeSending(list: readonly WebhookDelivery[], now: number) {
  const first = list.find((d) => d.status === 'pending');
  return first && (first.nextAttemptAt ?? 0) <= now ? first : undefined;
}

/**
 * The list as stored: every pending message (at most MAX_PENDING_DELIVERIES, the oldest
 * non-terminal ones after the first dropped first) and the last MAX_FINISHED_DELIVERIES finished ones, which
 * keep their bookkeeping but not their body. Creation order is kept.
 */
export function boundedDeliveries(list: readonly WebhookDelivery[]): WebhookDelivery[] {
  const pending = list.filter((d) => d.status === 'pending');
  // Never the first (its attempt may be under way), never a terminal event.
  const droppable = pending.slice(1).filter((d) => !TERMINAL_EVENTS.has(d.event));
  const dropped = new Set(droppable.slice(0, Math.max(0, pending.length - MAX_PENDING_DELIVERIES)));
  const finished = list.filter((d) => d.status !== 'pending');
  const keptFinished = new Set(finished.slice(-MAX_FINISHED_DELIVERIES));
  const out: WebhookDelivery[] = [];
  for (const d of list) {
    if (d.status === 'pending') {
      if (!dropped.has(d)) out.push(d);
    } else if (keptFinished.has(d)) {
      out.push(withoutBody(d));
    }
  }
  return out;
}

/** A finished delivery as a summary: its body is never sent again. */
function withoutBody(d: WebhookDelivery): WebhookDelivery {
  if (!('payload' in d)) return d;
  const { payload: _body, ...summary } = d;
  return summary;
}
