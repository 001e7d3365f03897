import { monotonicFactory } from 'ulid';
import type { Logger } from 'pino';
import type { Operation, TaskStatus } from '../contracts/common.js';
import { GatewayError, isGatewayError } from '../errors/gateway-error.js';
import type { TaskStore } from '../store/task-store.js';
import type { CredentialPool } from './credential-pool.js';
import type { ModelRegistry } from './models.js';
import type { GenerationInput, UpstreamSnapshot } from './ports.js';
import type { TaskEvents } from './task-events.js';
import { isTerminal, type TaskError, type TaskRecord } from './task-record.js';

export interface PollingPolicy {
  intervalMs: number;
  maxIntervalMs: number;
  unreachableDeadlineMs: number;
}

export interface CreateTaskInput extends GenerationInput {
  model: string;
  metadata?: Record<string, string>;
}

export interface TaskServiceDeps {
  store: TaskStore;
  models: ModelRegistry;
  pools: ReadonlyMap<string, CredentialPool>;
  events: TaskEvents;
  polling: PollingPolicy;
  logger: Logger;
  now?: () => number;
  /** Called when a task gets a poll time, so the poller can wake up early. */
  onScheduled?: (at: number) => void;
}

const newUlid = monotonicFactory();
const newTaskId = () => `task_${newUlid()}`;

/** Task lifecycle: create through an adapter, read, wait for changes, apply upstream polls. */
export class TaskService {
  private readonly now: () => number;

  constructor(private readonly deps: TaskServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async create(
    tenant: string,
    operation: Operation,
    request: CreateTaskInput,
  ): Promise<TaskRecord> {
    const { model: requested, metadata, ...input } = request;
    const resolved = this.deps.models.resolve(requested, operation);
    const ruleErrors = resolved.adapter.validate(operation, resolved.model, input);
    if (ruleErrors.length > 0) throw GatewayError.invalid(ruleErrors);
    const pool = this.deps.pools.get(resolved.provider);
    const credential = pool?.pick();
    if (!pool || !credential) {
      throw new GatewayError(
        'no_credential_available',
        `No credential configured for ${resolved.provider}`,
      );
    }

    const now = this.now();
    const queued: TaskRecord = {
      id: newTaskId(),
      tenant,
      type: operation,
      model: resolved.publicId,
      provider: resolved.provider,
      status: 'queued',
      progress: null,
      outputs: [],
      error: null,
      upstreamId: null,
      upstreamStatus: null,
      metadata: metadata ?? {},
      createdAt: now,
      updatedAt: now,
      completedAt: null,
      credentialId: credential.id,
      upstreamState: {},
      nextPollAt: null,
      pollAttempts: 0,
      lastContactAt: now,
      version: 1,
    };
    // Stored before the upstream call, so a crash mid-create still leaves a trace of the job.
    await this.deps.store.insert(queued);
    pool.acquire(credential.id);

    let snapshot: UpstreamSnapshot;
    try {
      snapshot = await resolved.adapter.start({
        operation,
        model: resolved.model,
        input,
        credential,
      });
    } catch (err) {
      await this.write(
        { ...queued, status: 'failed', error: toTaskError(err), completedAt: now },
        queued,
      );
      throw err;
    }
    const started = this.applySnapshot(queued, snapshot);
    return (await this.write(started, queued)) ?? (await this.deps.store.get(queued.id)) ?? started;
  }

  async get(tenant: string, id: string): Promise<TaskRecord> {
    const task = await this.deps.store.get(id);
    // Another tenant's task is indistinguishable from a missing one.
    if (!task || task.tenant !== tenant) throw new GatewayError('task_not_found', `No task ${id}`);
    return task;
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

  list(
    tenant: string,
    query: { status?: TaskStatus; limit: number; cursor?: string },
  ): Promise<TaskRecord[]> {
    return this.deps.store.list(tenant, query);
  }

  /** One upstream poll of a claimed task; transient failures reschedule with backoff. */
  async poll(task: TaskRecord): Promise<void> {
    const adapter = this.deps.models.adapter(task.provider);
    const credential = this.deps.pools.get(task.provider)?.byId(task.credentialId);
    const now = this.now();
    if (!adapter || !credential || task.upstreamId === null) {
      const message = !adapter
        ? `Provider ${task.provider} is no longer configured`
        : `Credential ${task.credentialId} of ${task.provider} is no longer configured`;
      await this.write(this.failed(task, { code: 'no_credential_available', message }), task);
      return;
    }
    let next: TaskRecord;
    try {
      const snapshot = await adapter.poll({
        operation: task.type,
        model: task.model.slice(task.provider.length + 1),
        credential,
        upstreamId: task.upstreamId,
        state: task.upstreamState,
      });
      next = this.applySnapshot(
        { ...task, pollAttempts: task.pollAttempts + 1, lastContactAt: now },
        snapshot,
      );
    } catch (err) {
      next = this.afterFailedPoll(task, err, now);
    }
    await this.write(next, task);
  }

  private afterFailedPoll(task: TaskRecord, err: unknown, now: number): TaskRecord {
    const error = toTaskError(err);
    const retryable = !isGatewayError(err) || err.retryable;
    if (!retryable) return this.failed(task, error);
    if (now - task.lastContactAt > this.deps.polling.unreachableDeadlineMs) {
      const minutes = Math.round(this.deps.polling.unreachableDeadlineMs / 60_000);
      return this.failed(task, {
        code: 'upstream_timeout',
        message: `${task.provider} stayed unreachable for more than ${minutes} min (last error: ${error.message})`,
      });
    }
    this.deps.logger.warn(
      { taskId: task.id, provider: task.provider, code: error.code },
      'poll failed, will retry',
    );
    const retryAfter = isGatewayError(err) ? err.retryAfterMs : undefined;
    const attempts = task.pollAttempts + 1;
    return { ...task, pollAttempts: attempts, nextPollAt: now + this.delay(attempts, retryAfter) };
  }

  /** Interval before the next poll: grows as the task ages, honours upstream hints, jittered. */
  private delay(attempts: number, hintMs?: number): number {
    const { intervalMs, maxIntervalMs } = this.deps.polling;
    const aged = intervalMs * 2 ** Math.floor(attempts / 10);
    const base = Math.min(maxIntervalMs, Math.max(aged, hintMs ?? 0));
    return Math.round(base * (0.9 + Math.random() * 0.2));
  }

  private failed(task: TaskRecord, error: TaskError): TaskRecord {
    return {
      ...task,
      status: 'failed',
      error,
      outputs: [],
      nextPollAt: null,
      completedAt: this.now(),
    };
  }

  private applySnapshot(task: TaskRecord, s: UpstreamSnapshot): TaskRecord {
    const now = this.now();
    const terminal = isTerminal(s.status);
    return {
      ...task,
      status: s.status,
      progress: s.status === 'succeeded' ? 1 : (s.progress ?? task.progress),
      outputs: s.status === 'succeeded' ? (s.outputs ?? []) : [],
      error:
        s.status === 'failed'
          ? (s.error ?? { code: 'upstream_error', message: 'The provider reported a failure' })
          : null,
      upstreamId: s.upstreamId ?? task.upstreamId,
      upstreamStatus: s.upstreamStatus,
      upstreamState: s.state ?? task.upstreamState,
      completedAt: terminal ? now : null,
      nextPollAt: terminal ? null : now + this.delay(task.pollAttempts, s.pollAfterMs),
    };
  }

  /**
   * Persists `next` over `prev` (compare-and-set) and tells waiters when something a client
   * can see changed. A lost race (another writer got there first) is left to that writer.
   */
  private async write(next: TaskRecord, prev: TaskRecord): Promise<TaskRecord | undefined> {
    const visible =
      next.status !== prev.status ||
      next.progress !== prev.progress ||
      next.upstreamStatus !== prev.upstreamStatus ||
      next.outputs.length !== prev.outputs.length;
    const record = {
      ...next,
      version: prev.version + 1,
      updatedAt: visible ? this.now() : prev.updatedAt,
    };
    if (!(await this.deps.store.update(record))) return undefined;
    if (isTerminal(record.status) && !isTerminal(prev.status)) {
      this.deps.pools.get(record.provider)?.release(record.credentialId);
    }
    if (record.nextPollAt !== null) this.deps.onScheduled?.(record.nextPollAt);
    if (visible) this.deps.events.notify(record.id);
    return record;
  }
}

function toTaskError(err: unknown): TaskError {
  if (isGatewayError(err)) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'Unexpected error while talking to the provider' };
}
