import type { TaskStatus } from '../contracts/common.js';

/**
 * What the domain and the upstream client report for `/metrics`: a port, so that neither
 * imports the metrics library. Every argument becomes a label value, so each one must come
 * from a small, fixed set (provider ids, the enums below, configured credential ids): never
 * a task id, a URL, a prompt or anything a caller or an upstream chose.
 */

/** What a call to an upstream was for (label `operation`). */
export type UpstreamOperation =
  | 'create'
  | 'poll'
  | 'cancel'
  | 'upload'
  | 'output'
  | 'callback'
  /** Anything an adapter did not name. */
  | 'call';

/**
 * How an upstream call ended (label `outcome`): `ok` for any answer below 400 (the adapter
 * may still read an error in its body), the HTTP class otherwise, and for calls that got no
 * answer the class of the transport failure.
 */
export type UpstreamOutcome =
  | 'ok'
  | 'http_4xx'
  | 'http_429'
  | 'http_5xx'
  | 'timeout'
  | 'unreachable'
  | 'connection_error'
  | 'bad_response'
  | 'aborted';

/**
 * How one poll of a task ended (label `outcome`): `ok` the upstream answered, `retry` a
 * transient failure (the task keeps its status and is polled again later), `failed` the poll
 * ended the task as failed (permanent error or upstream unreachable past the deadline),
 * `skipped` the task could not be polled (its provider or credential is no longer configured).
 */
export type PollOutcome = 'ok' | 'retry' | 'failed' | 'skipped';

/** How one webhook delivery attempt ended (label `outcome`). */
export type WebhookDeliveryOutcome = 'delivered' | 'retry' | 'failed';

export interface UpstreamMetrics {
  /** One HTTP call to an upstream, timed from sending until the answer was read. */
  upstreamCall(
    provider: string,
    operation: UpstreamOperation,
    outcome: UpstreamOutcome,
    seconds: number,
  ): void;
}

export interface DomainMetrics {
  /** A task was stored with status `to`; `from` is null for a new task. */
  taskChanged(provider: string, from: TaskStatus | null, to: TaskStatus): void;
  /** One poll of a task of `provider` finished. */
  pollDone(provider: string, outcome: PollOutcome): void;
  /** One webhook delivery attempt finished (called by the webhook dispatcher). */
  webhookDelivery(outcome: WebhookDeliveryOutcome): void;
}
