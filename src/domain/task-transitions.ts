import { isDeepStrictEqual } from 'node:util';
import type { TaskStatus } from '../contracts/common.js';
import { isGatewayError } from '../errors/gateway-error.js';
import {
  afterTransientFailure,
  boundedByDeadline,
  type PollingPolicy,
  type PollTiming,
  type RandomSource,
} from './poll-schedule.js';
import { CALLBACK_STATE_KEY, type CallbackPlan, type UpstreamSnapshot } from './ports.js';
import {
  CHANGE_HISTORY_LIMIT,
  MAX_TASK_OUTPUTS,
  isTerminal,
  toPublicTask,
  type TaskError,
  type TaskRecord,
  type WebhookDelivery,
  type WebhookEvent,
} from './task-record.js';
import { withNewDeliveries } from './webhook-deliveries.js';

/**
 * How a task record changes. Pure: the time, the next poll time and new ids are given, so
 * every rule is tested without a store or a clock.
 */

/**
 * The task after an upstream answer (create, poll, cancel, callback). Terminal: completed now
 * and no more polls; otherwise polled again at `pollAt(hint)`, the upstream's hint given.
 */
export function applySnapshot(
  task: TaskRecord,
  s: UpstreamSnapshot,
  now: number,
  pollAt: (hintMs: number | undefined) => number,
): TaskRecord {
  const terminal = isTerminal(s.status);
  const { outputsOmitted: _before, ...rest } = task;
  return {
    ...rest,
    status: s.status,
    progress: s.status === 'succeeded' ? 1 : (s.progress ?? task.progress),
    ...keptOutputs(task, s),
    error:
      s.status === 'failed'
        ? (s.error ?? { code: 'upstream_error', message: 'The provider reported a failure' })
        : null,
    upstreamId: s.upstreamId ?? task.upstreamId,
    upstreamStatus: s.upstreamStatus,
    upstreamState: s.state ? keepCallbackState(s.state, task.upstreamState) : task.upstreamState,
    ...(s.usage ? { usage: s.usage } : {}),
    completedAt: terminal ? now : null,
    nextPollAt: terminal ? null : boundedByDeadline(pollAt(s.pollAfterMs), task.deadlineAt),
  };
}

/** The outputs a snapshot leaves on the task: at most MAX_TASK_OUTPUTS, the rest counted. */
function keptOutputs(
  task: TaskRecord,
  s: UpstreamSnapshot,
): Pick<TaskRecord, 'outputs' | 'outputsOmitted'> {
  if (s.status !== 'succeeded') return { outputs: [] };
  // No outputs in a succeeded snapshot (the upstream removed its data) keeps what was stored.
  if (!s.outputs) {
    const { outputs, outputsOmitted } = task;
    return outputsOmitted ? { outputs, outputsOmitted } : { outputs };
  }
  const omitted = s.outputs.length - MAX_TASK_OUTPUTS;
  return {
    outputs: s.outputs.slice(0, MAX_TASK_OUTPUTS),
    ...(omitted > 0 ? { outputsOmitted: omitted } : {}),
  };
}

/** The task failed for good: no outputs, no more polls. */
export function failTask(task: TaskRecord, error: TaskError, now: number): TaskRecord {
  return { ...task, status: 'failed', error, outputs: [], nextPollAt: null, completedAt: now };
}

/** How a task's polls are timed (see poll-schedule.ts). */
export interface PollPlan {
  policy: PollingPolicy;
  /** The adapter's own interval for the task's operation, if it has one. */
  adapterIntervalMs: number | undefined;
  random: RandomSource;
}

/**
 * The task after a poll sent at `polledAt` failed (seen at `failedAt`): failed for good when
 * the error is not retryable or the upstream has been unreachable past the deadline, else
 * polled again later with backoff.
 */
export function afterFailedPoll(
  task: TaskRecord,
  err: unknown,
  at: { polledAt: number; failedAt: number },
  plan: PollPlan,
): TaskRecord {
  const error = toTaskError(err);
  if (!isRetryable(err)) return failTask(task, error, at.failedAt);
  const attempts = task.pollAttempts + 1;
  const timing: PollTiming & { lastContactAt: number } = {
    adapterIntervalMs: plan.adapterIntervalMs,
    attempts,
    lastContactAt: task.lastContactAt,
  };
  const retryAfterMs = isGatewayError(err) ? err.retryAfterMs : undefined;
  const verdict = afterTransientFailure(
    at.polledAt,
    plan.policy,
    timing,
    retryAfterMs,
    plan.random,
  );
  if ('retryAt' in verdict) {
    const nextPollAt = boundedByDeadline(verdict.retryAt, task.deadlineAt);
    return { ...task, pollAttempts: attempts, nextPollAt };
  }
  const gaveUp = unreachableError(
    task.provider,
    verdict.unreachableForMs,
    verdict.deadlineMs,
    error,
  );
  return failTask(task, gaveUp, at.failedAt);
}

/** What genway's cancel at a task's deadline came to (see `pastDeadline`). */
export type DeadlineCancel =
  { kind: 'answered'; answer: UpstreamSnapshot } | { kind: 'unsupported' } | { kind: 'failed' };

/**
 * The task at its deadline (the poller takes it up then; no poll is scheduled later), given what
 * the cancel genway sent there came to. A job that finished first keeps its outcome; one the
 * upstream canceled ends `canceled`; anything else ends `failed`; both carry
 * `deadline_exceeded`. Either way no further upstream call is made for it.
 */
export function pastDeadline(task: TaskRecord, cancel: DeadlineCancel, now: number): TaskRecord {
  const limit = task.deadlineAt == null ? '' : ` (${duration(task.deadlineAt - task.createdAt)})`;
  const error = (why: string): TaskError => ({
    code: 'deadline_exceeded',
    message: `The task did not finish within its deadline${limit}; ${why}`,
  });
  if (cancel.kind === 'answered' && isTerminal(cancel.answer.status)) {
    const ended = applySnapshot({ ...task, lastContactAt: now }, cancel.answer, now, () => now);
    if (cancel.answer.status !== 'canceled') return ended;
    return { ...ended, error: error(`genway canceled it at ${task.provider}`) };
  }
  const p = task.provider;
  switch (cancel.kind) {
    case 'answered': {
      const status = cancel.answer.upstreamStatus;
      const why = `genway asked ${p} to cancel it (it answered ${status}) and stopped following it`;
      return { ...failTask(task, error(why), now), upstreamStatus: status, lastContactAt: now };
    }
    case 'failed':
      return failTask(task, error(`canceling it at ${p} failed; genway stopped following it`), now);
    case 'unsupported':
      return failTask(
        task,
        error(
          `${p} has no cancel API, so genway stopped following it (the job may still run there)`,
        ),
        now,
      );
  }
}

/** The error recorded on a task for a failed upstream call (internals are never shown). */
export function toTaskError(err: unknown): TaskError {
  if (isGatewayError(err)) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'Unexpected error while talking to the provider' };
}

/** Whether a failed upstream call may succeed when tried again. */
export function isRetryable(err: unknown): boolean {
  return !isGatewayError(err) || err.retryable;
}

/** The error of a task given up because its upstream could not be reached for too long. */
export function unreachableError(
  provider: string,
  unreachableForMs: number,
  deadlineMs: number,
  last: TaskError,
): TaskError {
  return {
    code: 'upstream_timeout',
    message: `${provider} could not be reached for ${duration(unreachableForMs)} (limit ${duration(deadlineMs)}, UPSTREAM_UNREACHABLE_DEADLINE_MS); the task was given up. Last error: ${last.message}`,
  };
}

/** `1500` → `1.5 s`, `600000` → `10 min`. */
export function duration(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 6000) / 10} min`;
}

const STATUS_RANK: Readonly<Record<TaskStatus, number>> = {
  queued: 0,
  running: 1,
  succeeded: 2,
  failed: 2,
  canceled: 2,
};

/** Whether a callback's status is past the task's (or, both running, further along). */
export function movesForward(task: TaskRecord, s: UpstreamSnapshot): boolean {
  const from = STATUS_RANK[task.status];
  const to = STATUS_RANK[s.status];
  if (to !== from) return to > from;
  return s.status === 'running' && (s.progress ?? 0) > (task.progress ?? 0);
}

/** Whether a client can see the difference between `prev` and `next` (so waiters wake). */
export function isVisibleChange(prev: TaskRecord, next: TaskRecord): boolean {
  return (
    next.status !== prev.status ||
    next.progress !== prev.progress ||
    next.upstreamStatus !== prev.upstreamStatus ||
    next.outputs.length !== prev.outputs.length
  );
}

/** Whether `fresh` differs from `prev` in webhook bookkeeping only (what the dispatcher writes). */
export function onlyWebhookStateDiffers(prev: TaskRecord, fresh: TaskRecord): boolean {
  const rest = ({ version: _v, webhook: _w, nextWebhookAt: _n, ...other }: TaskRecord) => other;
  return prev.webhook?.url === fresh.webhook?.url && isDeepStrictEqual(rest(prev), rest(fresh));
}

/** Webhook events a change from `prev` to `next` raises (before the subscription filter). */
export function webhookEventsOf(prev: TaskRecord, next: TaskRecord): WebhookEvent[] {
  if (next.status !== prev.status) {
    if (next.status === 'running') return ['task.running'];
    if (isTerminal(next.status)) return [`task.${next.status}` as WebhookEvent];
    return [];
  }
  return next.status === 'running' && next.progress !== prev.progress ? ['task.progress'] : [];
}

/**
 * Records a status or progress change on the record itself: the numbered change (for SSE
 * resumes) and the webhook messages it causes (ids from `newMessageId`), due at `now`. Both go
 * to the store in the same compare-and-set write as the change, so neither can be lost
 * between two writes.
 */
export function recordChange(
  record: TaskRecord,
  prev: TaskRecord,
  now: number,
  newMessageId: () => string,
  /** The body for a webhook with a `format` (a compatible surface's object); undefined: the task. */
  formatBody?: (task: TaskRecord) => unknown,
): TaskRecord {
  if (record.status === prev.status && record.progress === prev.progress) return record;
  const seq = prev.changeSeq + 1;
  const change = { seq, at: now, status: record.status, progress: record.progress };
  const changed = {
    ...record,
    changeSeq: seq,
    changes: [...prev.changes, change].slice(-CHANGE_HISTORY_LIMIT),
  };
  const subscribed = webhookEventsOf(prev, record).filter((e) =>
    record.webhook?.events.includes(e),
  );
  if (!record.webhook || subscribed.length === 0) return changed;
  // The body of every attempt: the task as it is now (delivery bookkeeping left out), or the
  // surface's own object for a webhook asked for through a compatible surface.
  const formatted = record.webhook.format ? formatBody?.(changed) : undefined;
  const payload = formatted ?? { ...toPublicTask(changed), webhook: null };
  const deliveries = subscribed.map((event): WebhookDelivery => ({
    id: newMessageId(),
    event,
    payload,
    status: 'pending',
    attempts: 0,
    nextAttemptAt: now,
    lastStatus: null,
    lastError: null,
    deliveredAt: null,
  }));
  return {
    ...changed,
    webhook: {
      ...record.webhook,
      deliveries: withNewDeliveries(record.webhook.deliveries, deliveries, now),
    },
    nextWebhookAt: Math.min(now, record.nextWebhookAt ?? Infinity),
  };
}

/** The upstream state a new task starts with: what its callback plan keeps, if anything. */
export function callbackStateOf(plan: CallbackPlan | undefined): Record<string, unknown> {
  return plan?.state ? { [CALLBACK_STATE_KEY]: plan.state } : {};
}

/** Adapter state replaces the old one, but the callback state (not the adapter's) stays. */
export function keepCallbackState(
  state: Record<string, unknown>,
  previous: Record<string, unknown>,
): Record<string, unknown> {
  const kept = previous[CALLBACK_STATE_KEY];
  return kept === undefined ? state : { ...state, [CALLBACK_STATE_KEY]: kept };
}
