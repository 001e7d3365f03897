import { monotonicFactory } from 'ulid';
import type { Logger } from 'pino';
import type { Operation } from '../contracts/common.js';
import { GatewayError, isGatewayError } from '../errors/gateway-error.js';
import type { ListQuery, TaskStore } from '../store/task-store.js';
import type { CredentialPool } from './credential-pool.js';
import type { ModelRegistry } from './models.js';
import type { GenerationInput, StartCall, UpstreamSnapshot } from './ports.js';
import type { TaskEvents } from './task-events.js';
import {
  CHANGE_HISTORY_LIMIT,
  isTerminal,
  toPublicTask,
  type TaskError,
  type TaskRecord,
  type WebhookDelivery,
  type WebhookEvent,
} from './task-record.js';

export interface PollingPolicy {
  intervalMs: number;
  maxIntervalMs: number;
  unreachableDeadlineMs: number;
}

export interface CreateTaskInput extends GenerationInput {
  model: string;
  metadata?: Record<string, string>;
  webhook?: { url: string; events: WebhookEvent[] };
}

export interface CreateOptions {
  /**
   * The upstream's own input, from a compatible surface (`/replicate/v1`): handed to the
   * adapter as `StartCall.raw` in place of the normalized fields, which are then not checked
   * against the model's rules (the upstream validates its own input).
   */
  raw?: Record<string, unknown>;
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
  /**
   * Refuses a webhook URL genway must not call (SSRF rules, no WEBHOOK_SECRET): throws a
   * GatewayError. Absent: webhooks are refused.
   */
  checkWebhookUrl?: (url: string) => Promise<void>;
  /** Called when a webhook attempt is scheduled, so the dispatcher can wake up early. */
  onWebhookScheduled?: (at: number) => void;
  /** Handed to adapters as `StartCall.publishMedia`; set only when PUBLIC_URL is configured. */
  publishMedia?: StartCall['publishMedia'];
}

const newUlid = monotonicFactory();
const newTaskId = () => `task_${newUlid()}`;

/** Operations whose `video` may name an earlier task of the caller instead of a URL. */
const VIDEO_REF_OPERATIONS: ReadonlySet<Operation> = new Set(['video-upscale', 'video-extend']);

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
    options: CreateOptions = {},
  ): Promise<TaskRecord> {
    const { model: requested, metadata, webhook, ...given } = request;
    const resolved = this.deps.models.resolve(requested, operation);
    if (webhook) await this.checkWebhook(webhook.url);
    const input = await this.resolveVideoRef(tenant, operation, given);
    const ruleErrors = options.raw
      ? []
      : resolved.adapter.validate(operation, resolved.model, input);
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
      changeSeq: 0,
      changes: [],
      webhook: webhook ? { url: webhook.url, events: webhook.events, deliveries: [] } : null,
      nextWebhookAt: null,
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
        ...(this.deps.publishMedia ? { publishMedia: this.deps.publishMedia } : {}),
        ...(options.raw ? { raw: options.raw } : {}),
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

  /**
   * `video: "task_…"` (video-upscale, video-extend) becomes the first output URL of that task,
   * which must be the caller's own and succeeded: unknown or another tenant's → 404
   * task_not_found; not succeeded or without outputs → 409 output_not_ready; first output not
   * a video → 400; its link past `expires_at` → 410 output_expired.
   */
  private async resolveVideoRef(
    tenant: string,
    operation: Operation,
    input: GenerationInput,
  ): Promise<GenerationInput> {
    const ref = input.video;
    if (!VIDEO_REF_OPERATIONS.has(operation) || !ref?.startsWith('task_')) return input;
    const field = (message: string) => ({ errors: [{ path: 'video', message }] });
    const source = await this.deps.store.get(ref);
    if (!source || source.tenant !== tenant || source.deletedAt) {
      const message = `No task ${ref}: video must be a URL or the id of one of your succeeded tasks`;
      throw new GatewayError('task_not_found', message, field(message));
    }
    const first = source.outputs[0];
    if (source.status !== 'succeeded' || !first) {
      const message =
        source.status === 'succeeded'
          ? `Task ${ref} succeeded without outputs; there is no video to use`
          : `Task ${ref} is ${source.status}; video can only name a succeeded task (wait for it to finish)`;
      throw new GatewayError('output_not_ready', message, field(message));
    }
    if (!first.contentType.startsWith('video/')) {
      const message = `The first output of task ${ref} is ${first.contentType}, not a video`;
      throw GatewayError.invalid([{ path: 'video', message }], message);
    }
    if (first.expiresAt !== null && first.expiresAt <= this.now()) {
      const message = `The first output of task ${ref} expired at ${new Date(first.expiresAt).toISOString()}; the provider no longer serves it`;
      throw new GatewayError('output_expired', message, field(message));
    }
    return { ...input, video: first.url };
  }

  private async checkWebhook(url: string): Promise<void> {
    if (!this.deps.checkWebhookUrl) {
      const message = 'Webhooks are not enabled on this gateway (WEBHOOK_SECRET is not set)';
      throw GatewayError.invalid([{ path: 'webhook', message }], message);
    }
    await this.deps.checkWebhookUrl(url);
  }

  async get(tenant: string, id: string): Promise<TaskRecord> {
    const task = await this.deps.store.get(id);
    // Another tenant's task is indistinguishable from a missing one.
    if (!task || task.tenant !== tenant || task.deletedAt) {
      throw new GatewayError('task_not_found', `No task ${id}`);
    }
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
    const credential = this.deps.pools.get(task.provider)?.byId(task.credentialId);
    if (!credential) {
      throw new GatewayError(
        'no_credential_available',
        `Credential ${task.credentialId} of ${task.provider} is no longer configured`,
      );
    }
    if (task.upstreamId === null) {
      throw new GatewayError(
        'cancel_not_supported',
        `Task ${id} has not reached ${task.provider} yet; nothing was changed, retry in a moment`,
      );
    }
    const snapshot = await adapter.cancel({
      operation: task.type,
      model: task.model.slice(task.provider.length + 1),
      credential,
      upstreamId: task.upstreamId,
      state: task.upstreamState,
    });
    // The poller may write in between (compare-and-set): apply the answer to the fresh record.
    let current = task;
    for (let attempt = 0; attempt < 5; attempt++) {
      const next = this.applySnapshot({ ...current, lastContactAt: this.now() }, snapshot);
      const written = await this.write(next, current);
      if (written) return written;
      const fresh = await this.deps.store.get(id);
      if (!fresh) break;
      if (isTerminal(fresh.status)) return fresh;
      current = fresh;
    }
    return this.get(tenant, id);
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

  /**
   * Interval before the next poll: grows as the task ages (capped by maxIntervalMs), jittered.
   * An upstream hint (ModelsLab `eta`, Retry-After) is a floor: never ask before it, even when
   * it exceeds maxIntervalMs (bounded by the unreachable deadline).
   */
  private delay(attempts: number, hintMs?: number): number {
    const { intervalMs, maxIntervalMs, unreachableDeadlineMs } = this.deps.polling;
    const aged = Math.min(maxIntervalMs, intervalMs * 2 ** Math.floor(attempts / 10));
    const jittered = Math.round(aged * (0.9 + Math.random() * 0.2));
    const hint = Math.min(hintMs ?? 0, unreachableDeadlineMs);
    return Math.max(jittered, Math.round(hint * (1 + Math.random() * 0.1)));
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
      // No outputs in a succeeded snapshot (e.g. Replicate's data_removed) keeps what was stored.
      outputs: s.status === 'succeeded' ? (s.outputs ?? task.outputs) : [],
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
    const now = this.now();
    const record = withChange(
      { ...next, version: prev.version + 1, updatedAt: visible ? now : prev.updatedAt },
      prev,
      now,
    );
    if (!(await this.deps.store.update(record))) return undefined;
    if (isTerminal(record.status) && !isTerminal(prev.status)) {
      this.deps.pools.get(record.provider)?.release(record.credentialId);
    }
    if (record.nextPollAt !== null) this.deps.onScheduled?.(record.nextPollAt);
    if (record.nextWebhookAt != null) this.deps.onWebhookScheduled?.(record.nextWebhookAt);
    if (visible) this.deps.events.notify(record.id);
    return record;
  }
}

/** Webhook events a change from `prev` to `next` raises (before the subscription filter). */
function eventsOf(prev: TaskRecord, next: TaskRecord): WebhookEvent[] {
  if (next.status !== prev.status) {
    if (next.status === 'running') return ['task.running'];
    if (isTerminal(next.status)) return [`task.${next.status}` as WebhookEvent];
    return [];
  }
  return next.status === 'running' && next.progress !== prev.progress ? ['task.progress'] : [];
}

/**
 * Records a status or progress change on the record itself: the numbered change (for SSE
 * resumes) and the webhook messages it causes. Both go to the store in the same
 * compare-and-set write as the change, so neither can be lost between two writes.
 */
function withChange(record: TaskRecord, prev: TaskRecord, now: number): TaskRecord {
  if (record.status === prev.status && record.progress === prev.progress) return record;
  const seq = prev.changeSeq + 1;
  const change = { seq, at: now, status: record.status, progress: record.progress };
  const changed = {
    ...record,
    changeSeq: seq,
    changes: [...prev.changes, change].slice(-CHANGE_HISTORY_LIMIT),
  };
  const subscribed = eventsOf(prev, record).filter((e) => record.webhook?.events.includes(e));
  if (!record.webhook || subscribed.length === 0) return changed;
  // The body of every attempt: the task as it is now (delivery bookkeeping left out).
  const payload = { ...toPublicTask(changed), webhook: null };
  const deliveries = subscribed.map((event): WebhookDelivery => ({
    id: `msg_${newUlid()}`,
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
    webhook: { ...record.webhook, deliveries: [...record.webhook.deliveries, ...deliveries] },
    nextWebhookAt: Math.min(now, record.nextWebhookAt ?? Infinity),
  };
}

function toTaskError(err: unknown): TaskError {
  if (isGatewayError(err)) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'Unexpected error while talking to the provider' };
}
