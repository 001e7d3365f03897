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
 * `existing` followed by `added` (new pending messages, in order). A pending `task.progress`
 * message is dropped when a newer progress or terminal message is added: a receiver wants the
 * latest state, not every step (its id is never sent again, so no retry changes id).
 */
export function withNewDeliveries(
  existing: readonly WebhookDelivery[],
  added: readonly WebhookDelivery[],
): WebhookDelivery[] {
  const superseding = added.some(supersedesProgress);
  const kept = superseding
    ? existing.filter((d) => !(d.status === 'pending' && d.event === 'task.progress'))
    : existing;
  return boundedDeliveries([...kept, ...added]);
}

/**
 * The list as stored: every pending message (at most MAX_PENDING_DELIVERIES, the oldest
 * non-terminal ones dropped first) and the last MAX_FINISHED_DELIVERIES finished ones, which
 * keep their bookkeeping but not their body. Creation order is kept.
 */
export function boundedDeliveries(list: readonly WebhookDelivery[]): WebhookDelivery[] {
  const pending = list.filter((d) => d.status === 'pending');
  const droppable = pending.filter((d) => !TERMINAL_EVENTS.has(d.event));
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
