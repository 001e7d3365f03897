import type { Operation } from '../contracts/common.js';
import { GatewayError, isGatewayError } from '../errors/gateway-error.js';
import type { CredentialPool } from './credential-pool.js';
import type { DueSignals } from './due-signal.js';
import type { IdempotencyPolicy, IdempotentOutcome } from './idempotency.js';
import type { Logger } from './logger.js';
import type { DomainMetrics, PollOutcome } from './metrics.js';
import type { ModelRegistry } from './models.js';
import type { PollBudget } from './poll-budget.js';
import {
  afterTransientFailure,
  pollDelayMs,
  type PollingPolicy,
  type RandomSource,
} from './poll-schedule.js';
import type { Credential, PollCall, StartCall, UpstreamSnapshot } from './ports.js';
import type { TaskEvents } from './task-events.js';
import { TaskFollowers, type FollowOptions, type TaskFollow } from './task-follow.js';
import { isTerminal, isVisibleTo, type TaskRecord } from './task-record.js';
import { TaskStarter, type CreateOptions, type CreateTaskInput } from './task-starter.js';
import type { ListQuery, TaskStore } from './task-store.js';
import {
  applySnapshot,
  failTask,
  isRetryable,
  movesForward,
  toTaskError,
  unreachableError,
} from './task-transitions.js';
import { TaskWriter } from './task-writer.js';

export type { CreateOptions, CreateTaskInput } from './task-starter.js';

export interface TaskServiceDeps {
  store: TaskStore;
  models: ModelRegistry;
  pools: ReadonlyMap<string, CredentialPool>;
  events: TaskEvents;
  polling: PollingPolicy;
  logger: Logger;
  now?: () => number;
  /** Jitter of poll times (Math.random by default; tests pass a fixed source). */
  random?: RandomSource;
  /** Raised with every poll and webhook attempt time written, so their loops wake up early. */
  due?: DueSignals;
  /**
   * Refuses a webhook URL genway must not call (SSRF rules, no WEBHOOK_SECRET): throws a
   * GatewayError. Absent: webhooks are refused.
   */
  checkWebhookUrl?: (url: string) => Promise<void>;
  /** Handed to adapters as `StartCall.publishMedia`; set only when PUBLIC_URL is configured. */
  publishMedia?: StartCall['publishMedia'];
  /**
   * The URL where `provider`'s upstream calls back about `taskId`; set only when genway knows
   * its public URL. Unset: adapters never ask for callbacks, tasks are polled only.
   */
  callbackUrl?: (provider: string, taskId: string) => string;
  /** Task transitions and polls, for `/metrics`. */
  metrics?: DomainMetrics;
  /** Polls per second per upstream credential; a due task over budget is pushed back. */
  pollBudget?: PollBudget;
  /** Idempotency-Key expiry and wait (IDEMPOTENCY_TTL_SECONDS, IDEMPOTENCY_WAIT_MS). */
  idempotency?: Partial<IdempotencyPolicy>;
  /**
   * Models a create may move to when its model's provider provably got nothing (`fallbacks`
   * in GATEWAY_CONFIG): public model id or alias → fallback models, in order.
   */
  fallbacks?: Readonly<Record<string, readonly string[]>>;
}

/** Writes a change re-reads and re-applies after losing a compare-and-set race. */
const CONFLICT_RETRIES = 5;

/**
 * Task lifecycle: creates (through TaskStarter), reads, waits for changes, follows, cancels,
 * and applies upstream polls and callbacks. Every write goes through TaskWriter.
 */
export class TaskService {
  private readonly now: () => number;
  private readonly random: RandomSource;
  private readonly writer: TaskWriter;
  private readonly starter: TaskStarter;
  private readonly followers: TaskFollowers;

  constructor(private readonly deps: TaskServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.writer = new TaskWriter({ ...deps, now: this.now });
    this.starter = new TaskStarter({
      ...deps,
      writer: this.writer,
      now: this.now,
      pollDelayMs: (task, hintMs) => this.pollDelay(task, task.pollAttempts, hintMs),
      getTask: (tenant, id) => this.get(tenant, id),
    });
    this.followers = new TaskFollowers((id) => deps.store.get(id), deps.events);
  }

  async create(
    tenant: string,
    operation: Operation,
    request: CreateTaskInput,
    options: CreateOptions = {},
  ): Promise<TaskRecord> {
    return (await this.createOrReplay(tenant, operation, request, options)).task;
  }

  /**
   * create(), also saying whether the answer is a replay: with `options.idempotency`, a key
   * already used with the same body gives the original outcome and starts nothing.
   */
  createOrReplay(
    tenant: string,
    operation: Operation,
    request: CreateTaskInput,
    options: CreateOptions = {},
  ): Promise<IdempotentOutcome> {
    return this.starter.createOrReplay(tenant, operation, request, options);
  }

  /** The tenant's task; another tenant's (or a deleted one) is 404 like a missing one. */
  async get(tenant: string, id: string): Promise<TaskRecord> {
    const task = await this.deps.store.get(id);
    if (!isVisibleTo(task, tenant)) throw new GatewayError('task_not_found', `No task ${id}`);
    return task;
  }

  /**
   * Soft-deletes a finished task of the caller (OpenAI `DELETE /videos/{id}`): afterwards it is
   * 404 everywhere and never listed; the stored row stays (with `deletedAt`) for the operator.
   * Only terminal tasks: a running one would still be polled and reported on. 400 otherwise.
   */
  async delete(tenant: string, id: string): Promise<TaskRecord> {
    for (let attempt = 0; ; attempt++) {
      const task = await this.get(tenant, id);
      if (!isTerminal(task.status)) {
        throw GatewayError.invalid(
          [{ path: 'id', message: `task ${id} is ${task.status}` }],
          `Task ${id} is ${task.status}; only a finished task can be deleted`,
        );
      }
      const deleted = { ...task, deletedAt: this.now(), version: task.version + 1 };
      // Compare-and-set; a concurrent writer (a second delete) means: read again.
      if (await this.deps.store.update(deleted)) return deleted;
      if (attempt === 2) throw new GatewayError('internal', `Task ${id} kept changing`);
    }
  }

  /**
   * Returns the task once it differs from the state the caller saw (`updatedAt`), or after
   * `timeoutMs`. Never calls the upstream: the poller does that once for all readers.
   */
  async waitForChange(
    tenant: string,
    id: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<TaskRecord> {
    const first = await this.get(tenant, id);
    if (isTerminal(first.status) || timeoutMs <= 0) return first;
    const deadline = this.now() + timeoutMs;
    let current = first;
    while (!signal?.aborted) {
      const left = deadline - this.now();
      if (left <= 0) break;
      await this.deps.events.next(id, left, signal);
      current = await this.get(tenant, id);
      if (current.updatedAt !== first.updatedAt) break;
    }
    return current;
  }

  /** For `Prefer: wait=N`: returns once the task is terminal or the time is up. */
  async waitUntilFinished(
    tenant: string,
    id: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<TaskRecord> {
    const deadline = this.now() + timeoutMs;
    let task = await this.get(tenant, id);
    while (!isTerminal(task.status) && !signal?.aborted) {
      const left = deadline - this.now();
      if (left <= 0) break;
      await this.deps.events.next(id, left, signal);
      task = await this.get(tenant, id);
    }
    return task;
  }

  /**
   * Follows the tenant's task (404 like `get` when it is not theirs): its changes after
   * `lastSeq` (undefined: from its current state) until a terminal status, or `finished` when
   * `lastSeq` is already the final change of a finished task. Never calls the upstream.
   */
  async follow(
    tenant: string,
    id: string,
    lastSeq: number | undefined,
    options: FollowOptions,
  ): Promise<TaskFollow> {
    return this.followers.follow(await this.get(tenant, id), lastSeq, options);
  }

  list(tenant: string, query: ListQuery): Promise<TaskRecord[]> {
    return this.deps.store.list(tenant, query);
  }

  /**
   * Cancels the upstream job where the provider can: the task becomes what the upstream then
   * reports (`canceled`, or its final status if it finished first) and is no longer polled.
   * 409 `task_already_finished` for a terminal task and 409 `cancel_not_supported` for a
   * provider without a cancel API; in both cases nothing changes.
   */
  async cancel(tenant: string, id: string): Promise<TaskRecord> {
    const task = await this.get(tenant, id);
    if (isTerminal(task.status)) {
      throw new GatewayError(
        'task_already_finished',
        `Task ${id} is already ${task.status}; the cancel changed nothing`,
      );
    }
    const adapter = this.deps.models.adapter(task.provider);
    if (!adapter?.cancel) {
      throw new GatewayError(
        'cancel_not_supported',
        `${task.provider} has no cancel API; task ${id} was not changed and keeps running`,
      );
    }
    const credential = this.credentialOf(task);
    if (!credential) {
      throw new GatewayError(
        'no_credential_available',
        `Credential ${task.credentialId} of ${task.provider} is no longer configured`,
      );
    }
    const call = pollCallOf(task, credential);
    if (!call) {
      throw new GatewayError(
        'cancel_not_supported',
        `Task ${id} has not reached ${task.provider} yet; nothing was changed, retry in a moment`,
      );
    }
    const snapshot = await adapter.cancel(call);
    // The poller may write in between (compare-and-set): apply the answer to the fresh record.
    let current = task;
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const written = await this.writer.write(this.answered(current, snapshot), current);
      if (written) return written;
      const fresh = await this.deps.store.get(id);
      if (!fresh) break;
      if (isTerminal(fresh.status)) return fresh;
      current = fresh;
    }
    return this.get(tenant, id);
  }

  /**
   * Applies an authenticated upstream callback (domain/upstream-callbacks.ts verified it and
   * checked that it is about this task's upstream job) with the same compare-and-set as polls.
   * A callback only moves a task forward: on a terminal task (late or duplicate delivery), or
   * with a status the task has already passed (`processing` after success), nothing changes;
   * nor before the create's answer named the upstream job. A non-terminal callback keeps the
   * scheduled poll: polling stays the fallback until the task is terminal.
   */
  async applyCallback(
    provider: string,
    taskId: string,
    snapshot: UpstreamSnapshot,
  ): Promise<{ applied: boolean; reason?: string; task?: TaskRecord }> {
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const task = await this.deps.store.get(taskId);
      if (!task || task.provider !== provider) return { applied: false, reason: 'unknown task' };
      if (isTerminal(task.status)) return { applied: false, reason: 'task already finished', task };
      if (task.upstreamId === null) {
        return { applied: false, reason: 'create still in flight', task };
      }
      if (snapshot.upstreamId !== null && snapshot.upstreamId !== task.upstreamId) {
        return { applied: false, reason: 'another upstream job', task };
      }
      if (!movesForward(task, snapshot)) return { applied: false, reason: 'not newer', task };
      const next = this.answered(task, snapshot);
      const kept = isTerminal(next.status) ? next : { ...next, nextPollAt: task.nextPollAt };
      const written = await this.writer.write(kept, task);
      if (written) return { applied: true, task: written };
    }
    return { applied: false, reason: 'task kept changing' };
  }

  /** One upstream poll of a claimed task; transient failures reschedule with backoff. */
  async poll(task: TaskRecord): Promise<void> {
    const adapter = this.deps.models.adapter(task.provider);
    const credential = this.credentialOf(task);
    const call = credential && pollCallOf(task, credential);
    const now = this.now();
    if (!adapter || !call) {
      const message = !adapter
        ? `Provider ${task.provider} is no longer configured`
        : `Credential ${task.credentialId} of ${task.provider} is no longer configured`;
      this.deps.metrics?.pollDone(task.provider, 'skipped');
      const error = { code: 'no_credential_available', message };
      await this.writer.write(failTask(task, error, this.now()), task);
      return;
    }
    // Over the credential's poll budget: back to the store with a later poll time, not polled.
    const wait = this.deps.pollBudget?.admit(task.provider, task.credentialId, task.id, now) ?? 0;
    if (wait > 0) {
      await this.writer.write({ ...task, nextPollAt: now + wait }, task);
      return;
    }
    const pool = this.deps.pools.get(task.provider);
    let next: TaskRecord;
    let outcome: PollOutcome = 'ok';
    try {
      const snapshot = await adapter.poll(call);
      next = this.answered({ ...task, pollAttempts: task.pollAttempts + 1 }, snapshot, now);
      pool?.reportOutcome(task.credentialId, 'success', 'poll');
    } catch (err) {
      pool?.reportOutcome(task.credentialId, { error: err }, 'poll');
      next = this.afterFailedPoll(task, err, now);
      outcome = next.status === 'failed' ? 'failed' : 'retry';
    }
    this.deps.metrics?.pollDone(task.provider, outcome);
    await this.writer.write(next, task);
  }

  /** The task after a failed poll: given up, or polled again later (see poll-schedule.ts). */
  private afterFailedPoll(task: TaskRecord, err: unknown, now: number): TaskRecord {
    const error = toTaskError(err);
    if (!isRetryable(err)) return failTask(task, error, this.now());
    const attempts = task.pollAttempts + 1;
    const verdict = afterTransientFailure(
      now,
      this.deps.polling,
      { ...this.timingOf(task, attempts), lastContactAt: task.lastContactAt },
      isGatewayError(err) ? err.retryAfterMs : undefined,
      this.random,
    );
    if ('unreachableForMs' in verdict) {
      const { unreachableForMs, deadlineMs } = verdict;
      const gaveUp = unreachableError(task.provider, unreachableForMs, deadlineMs, error);
      return failTask(task, gaveUp, this.now());
    }
    this.deps.logger.warn(
      { taskId: task.id, provider: task.provider, code: error.code },
      'poll failed, will retry',
    );
    return { ...task, pollAttempts: attempts, nextPollAt: verdict.retryAt };
  }

  /** The task after an upstream answer received at `now` (the upstream was reached). */
  private answered(task: TaskRecord, snapshot: UpstreamSnapshot, now = this.now()): TaskRecord {
    const reached = { ...task, lastContactAt: now };
    const answeredAt = this.now();
    const pollAt = (hintMs?: number) =>
      answeredAt + this.pollDelay(task, task.pollAttempts, hintMs);
    return applySnapshot(reached, snapshot, answeredAt, pollAt);
  }

  private pollDelay(task: TaskRecord, attempts: number, hintMs: number | undefined): number {
    return pollDelayMs(this.deps.polling, this.timingOf(task, attempts), hintMs, this.random);
  }

  private timingOf(task: TaskRecord, attempts: number) {
    const adapter = this.deps.models.adapter(task.provider);
    return { adapterIntervalMs: adapter?.pollIntervalMs?.(task.type), attempts };
  }

  private credentialOf(task: TaskRecord): Credential | undefined {
    return this.deps.pools.get(task.provider)?.byId(task.credentialId);
  }
}

/** The adapter call that polls (or cancels) the task's upstream job; undefined before it has one. */
function pollCallOf(task: TaskRecord, credential: Credential): PollCall | undefined {
  if (task.upstreamId === null) return undefined;
  return {
    operation: task.type,
    model: task.model.slice(task.provider.length + 1),
    credential,
    upstreamId: task.upstreamId,
    state: task.upstreamState,
  };
}
