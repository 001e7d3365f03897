import type { Operation } from '../contracts/common.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { IdempotentOutcome } from './idempotency.js';
import type { Logger } from './logger.js';
import type { ModelRegistry } from './models.js';
import type { PollAdmission } from './poll-budget.js';
import type { PollingPolicy, RandomSource } from './poll-schedule.js';
import type { Credential, UpstreamSnapshot } from './ports.js';
import { SharedReads } from './shared-reads.js';
import { TaskFollowers, type FollowOptions, type TaskFollow } from './task-follow.js';
import { isTerminal, isVisibleTo, type TaskRecord, type TaskView } from './task-record.js';
import {
  TaskStarter,
  type CreateOptions,
  type CreateTaskInput,
  type TaskStarterDeps,
} from './task-starter.js';
import type { ListQuery } from './task-store.js';
import { movesForward } from './task-transitions.js';
import { TaskPolls, pollCallOf } from './task-polls.js';
import { TaskWriter, type TaskWriterDeps } from './task-writer.js';

export type { CreateOptions, CreateTaskInput } from './task-starter.js';

/** What creates need besides the core (see TaskStarterDeps). */
type CreateDeps = Pick<
  TaskStarterDeps,
  | 'checkWebhookUrl'
  | 'checkCallerUrl'
  | 'publishMedia'
  | 'storedOutputLinks'
  | 'callbackUrl'
  | 'idempotency'
  | 'fallbacks'
>;

/** The store, pools, events, due signals and metrics are the writer's (see TaskWriterDeps). */
export interface TaskServiceDeps extends TaskWriterDeps, CreateDeps {
  models: ModelRegistry;
  /** Deletes a task's stored media (media storage on): at DELETE and nowhere else. */
  deleteMedia?: (task: TaskRecord) => Promise<void>;
  polling: PollingPolicy;
  logger: Logger;
  /** Jitter of poll times (Math.random by default; tests pass a fixed source). */
  random?: RandomSource;
  /** Polls per second per upstream credential; a due task over budget is pushed back. */
  pollBudget?: PollAdmission;
}

/** How often a cancel or callback re-reads the task and re-applies its answer after losing a race. */
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
  /** Waits and followers woken by one change share one read of the task. */
  private readonly reads: SharedReads;
  private readonly polls: TaskPolls;

  constructor(private readonly deps: TaskServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.writer = new TaskWriter({ ...deps, now: this.now });
    this.polls = new TaskPolls({
      ...deps,
      writer: this.writer,
      now: this.now,
      random: this.random,
    });
    this.starter = new TaskStarter({
      ...deps,
      writer: this.writer,
      now: this.now,
      pollDelayMs: (task, hintMs) => this.polls.pollDelay(task, hintMs),
      getTask: (tenant, id) => this.get(tenant, id),
    });
    this.reads = new SharedReads((id) => deps.store.get(id));
    deps.events.onChange((id) => this.reads.changed(id));
    this.followers = new TaskFollowers(this.reads, deps.events);
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
   * The tenant's task as reads render it (404 like `get`): what the store keeps apart for
   * that is not read. Never change it (it may be shared with other readers).
   */
  async read(tenant: string, id: string): Promise<TaskView> {
    const { store } = this.deps;
    const task = store.readView ? await store.readView(id) : await store.get(id);
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
      if (await this.deps.store.update(deleted)) {
        await this.deps.deleteMedia?.(deleted);
        return deleted;
      }
      if (attempt === 2) throw new GatewayError('internal', `Task ${id} kept changing`);
    }
  }

  /**
   * Returns the task once it differs from the state the caller saw (`updatedAt`), or after
   * `timeoutMs`. Never calls the upstream: the poller does that once for all readers.
   */
  async waitForChange(tenant: string, id: string, timeoutMs: number, signal?: AbortSignal) {
    let seen: TaskRecord['updatedAt'] | undefined;
    return this.waitUntil(tenant, id, timeoutMs, signal, (task) => {
      if (seen !== undefined) return task.updatedAt !== seen;
      // The first read: the state the caller saw; a finished task changes no more.
      seen = task.updatedAt;
      return isTerminal(task.status);
    });
  }

  /** Long-polls and waits waiting on the task now (diagnostics; a client gone leaves none). */
  waiting(id: string): number {
    return this.deps.events.waiting(id);
  }

  /** For `Prefer: wait=N`: returns once the task is terminal or the time is up. */
  async waitUntilFinished(tenant: string, id: string, timeoutMs: number, signal?: AbortSignal) {
    return this.waitUntil(tenant, id, timeoutMs, signal, (task) => isTerminal(task.status));
  }

  /** Reads the task until `done` says so, the wait is aborted or `timeoutMs` has passed. */
  private async waitUntil(
    tenant: string,
    id: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    done: (task: TaskRecord) => boolean,
  ): Promise<TaskRecord> {
    const deadline = this.now() + timeoutMs;
    for (;;) {
      // Registered before the read, so a change written in between wakes the wait.
      const watch = this.deps.events.watch(id, Math.max(0, deadline - this.now()), signal);
      try {
        // Every waiter of the task wakes at once on a change: one read serves them all.
        const task = await this.reads.read(id);
        if (!isVisibleTo(task, tenant)) throw new GatewayError('task_not_found', `No task ${id}`);
        if (done(task) || signal?.aborted || deadline - this.now() <= 0) return task;
        await watch.changed;
      } finally {
        watch.cancel();
      }
    }
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
  poll(task: TaskRecord): Promise<void> {
    return this.polls.poll(task);
  }

  /**
   * Hands back a claimed task without polling it (the poller is stopping): its poll is due
   * again now, so another instance takes it at once instead of after the lease.
   */
  releaseClaim(claimed: TaskRecord): Promise<void> {
    return this.polls.releaseClaim(claimed);
  }

  /** The task after an upstream answer (the upstream was reached). */
  private answered(task: TaskRecord, snapshot: UpstreamSnapshot): TaskRecord {
    return this.polls.answered(task, snapshot);
  }

  private credentialOf(task: TaskRecord): Credential | undefined {
    return this.deps.pools.get(task.provider)?.byId(task.credentialId);
  }
}
