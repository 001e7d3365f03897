import { isDeepStrictEqual } from 'node:util';
import { monotonicFactory } from 'ulid';
import type { Logger } from './logger.js';
import type { Operation, TaskStatus } from '../contracts/common.js';
import { GatewayError, isGatewayError } from '../errors/gateway-error.js';
import type { ListQuery, TaskStore } from './task-store.js';
import type { Credential } from './ports.js';
import { isCredentialRefusal } from './credential-health.js';
import type { CredentialPool } from './credential-pool.js';
import type { DomainMetrics, PollOutcome } from './metrics.js';
import {
  IdempotencyKeys,
  fingerprintOf,
  type IdempotencyPolicy,
  type IdempotencyRequest,
  type IdempotentOutcome,
} from './idempotency.js';
import type { ModelRegistry, ResolvedModel } from './models.js';
import type { PollBudget } from './poll-budget.js';
import type { GenerationInput, RecoverCall, StartCall, UpstreamSnapshot } from './ports.js';
import { CALLBACK_STATE_KEY, type CallbackPlan } from './ports.js';
import { outcomeUnknownError, startFailureOf } from './start-outcome.js';
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
  /**
   * Base interval before backoff. For a provider whose adapter has its own interval for the
   * operation (`pollIntervalMs`), that one applies instead, unless `intervalOverridesAdapters`
   * (POLL_INTERVAL_MS was set explicitly: tests and operators who want one interval).
   */
  intervalMs: number;
  intervalOverridesAdapters?: boolean;
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
  /** The request's Idempotency-Key and the surface it came through (see idempotency.ts). */
  idempotency?: IdempotencyRequest;
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
  /**
   * PUBLIC_URL: set, adapters with `callbacks` ask their upstream to call back under
   * `{callbackBaseUrl}/callbacks/{provider}/…` (see upstream-callbacks.ts). Unset: polls only.
   */
  callbackBaseUrl?: string;
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

/** Upstream calls one create may make when the earlier ones provably sent nothing. */
const MAX_START_ATTEMPTS = 4;

/** Where one attempt of a create goes: a model, and a slot on a credential of its provider. */
interface StartTarget {
  model: ResolvedModel;
  pool: CredentialPool;
  credential: Credential;
}

const newUlid = monotonicFactory();
const newTaskId = () => `task_${newUlid()}`;

/** Operations whose `video` may name an earlier task of the caller instead of a URL. */
const VIDEO_REF_OPERATIONS: ReadonlySet<Operation> = new Set(['video-upscale', 'video-extend']);

/** Task lifecycle: create through an adapter, read, wait for changes, apply upstream polls. */
export class TaskService {
  private readonly now: () => number;
  private readonly idempotency: IdempotencyKeys;

  constructor(private readonly deps: TaskServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.idempotency = new IdempotencyKeys({
      store: deps.store,
      policy: deps.idempotency,
      now: deps.now,
      getTask: (tenant, id) => this.get(tenant, id),
    });
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
  async createOrReplay(
    tenant: string,
    operation: Operation,
    request: CreateTaskInput,
    options: CreateOptions = {},
  ): Promise<IdempotentOutcome> {
    const key = options.idempotency;
    if (!key) {
      return { task: await this.createTask(tenant, operation, request, options), replayed: false };
    }
    return this.idempotency.run(
      { tenant, surface: key.surface, key: key.key },
      fingerprintOf({ operation, request, raw: options.raw ?? null }),
      (reserveKey) => this.createTask(tenant, operation, request, options, reserveKey),
    );
  }

  /**
   * Stores the task, then starts the upstream job. A failure that provably sent nothing moves
   * the create to another credential or a fallback model (bounded); one that may have started
   * a job is never re-sent (see start-outcome.ts).
   */
  private async createTask(
    tenant: string,
    operation: Operation,
    request: CreateTaskInput,
    options: CreateOptions,
    /** Names the task on its Idempotency-Key before it is stored (so before any upstream call). */
    reserveKey?: (taskId: string) => Promise<void>,
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
    if (!pool) {
      throw new GatewayError(
        'no_credential_available',
        `No credential configured for ${resolved.provider}`,
      );
    }
    // An in-flight slot on a usable credential, waiting for one if all are at their cap;
    // 429 upstream_rate_limited / 503 no_credential_available before any upstream call.
    const credential = await pool.reserve();

    const now = this.now();
    const taskId = newTaskId();
    let callbackPlan = this.callbackPlan(resolved, taskId, operation);
    const queued: TaskRecord = {
      id: taskId,
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
      upstreamState: callbackStateOf(callbackPlan),
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
    try {
      await reserveKey?.(queued.id);
      await this.deps.store.insert(queued);
    } catch (err) {
      pool.release(credential.id);
      pool.reportOutcome(credential.id, 'neutral');
      throw err;
    }
    this.deps.metrics?.taskChanged(queued.provider, null, queued.status);

    let snapshot: UpstreamSnapshot;
    let current = queued;
    let target: StartTarget = { model: resolved, pool, credential };
    const tried = new Set<string>();
    const fallbacks = this.fallbacksOf(requested, resolved, operation, input, options.raw);
    for (let attempt = 1; ; attempt++) {
      const call: StartCall = {
        operation,
        model: target.model.model,
        input,
        credential: target.credential,
        ...(this.deps.publishMedia ? { publishMedia: this.deps.publishMedia } : {}),
        ...(options.raw ? { raw: options.raw } : {}),
        ...(callbackPlan ? { callbackFields: callbackPlan.fields } : {}),
      };
      const sentAt = this.now();
      try {
        snapshot = await target.model.adapter.start(call);
        target.pool.reportOutcome(target.credential.id, 'success');
        break;
      } catch (err) {
        target.pool.reportOutcome(target.credential.id, { error: err });
        const next =
          attempt < MAX_START_ATTEMPTS
            ? await this.failover(target, err, tried, fallbacks)
            : undefined;
        if (next) {
          this.deps.logger.warn(
            {
              taskId: queued.id,
              provider: target.model.provider,
              credentialId: target.credential.id,
              code: toTaskError(err).code,
              next: { model: next.model.publicId, credentialId: next.credential.id },
            },
            'create started nothing upstream; trying the next credential or fallback model',
          );
          const moved = {
            ...current,
            model: next.model.publicId,
            provider: next.model.provider,
            credentialId: next.credential.id,
          };
          if (next.model.provider !== target.model.provider) {
            // Another provider: its own callback (or none), kept on the task before its create.
            callbackPlan = this.callbackPlan(next.model, queued.id, operation);
            moved.upstreamState = callbackStateOf(callbackPlan);
          }
          current = (await this.write(moved, current)) ?? moved;
          target.pool.release(target.credential.id);
          target = next;
          continue;
        }
        if (startFailureOf(err) === 'unknown') {
          const recovered = await this.recover(target, { ...call, sentAt }, queued.id);
          if (recovered) {
            snapshot = recovered;
            break;
          }
          const unknown = outcomeUnknownError(target.model.provider, queued.id, err);
          this.deps.logger.error(
            {
              taskId: queued.id,
              provider: target.model.provider,
              credentialId: target.credential.id,
              code: toTaskError(err).code,
            },
            'create may have started an upstream job without an answer; not re-sent',
          );
          await this.write(
            { ...current, status: 'failed', error: toTaskError(unknown), completedAt: now },
            current,
          );
          throw unknown;
        }
        await this.write(
          { ...current, status: 'failed', error: toTaskError(err), completedAt: now },
          current,
        );
        throw err;
      }
    }
    const started = this.applySnapshot(current, snapshot);
    return (
      (await this.write(started, current)) ?? (await this.deps.store.get(queued.id)) ?? started
    );
  }

  /**
   * Where a create goes after a failed attempt that started nothing: another credential of the
   * same provider (when nothing was sent, or the provider refused that credential itself),
   * else, only when nothing was sent, the next fallback model with a free credential.
   * Undefined when the create must fail.
   */
  private async failover(
    target: StartTarget,
    err: unknown,
    tried: Set<string>,
    fallbacks: ResolvedModel[],
  ): Promise<StartTarget | undefined> {
    const notSent = startFailureOf(err) === 'not-sent';
    if (notSent || isCredentialRefusal(err)) {
      const other = await this.otherCredential(target.pool, tried, target.credential.id);
      if (other) return { ...target, credential: other };
    }
    if (!notSent) return undefined;
    for (let model = fallbacks.shift(); model; model = fallbacks.shift()) {
      const pool = this.deps.pools.get(model.provider);
      if (!pool) continue;
      try {
        const credential = await pool.reserve();
        tried.clear();
        return { model, pool, credential };
      } catch {
        // No usable credential for this fallback either: the next one.
      }
    }
    return undefined;
  }

  /**
   * Fallback models configured for the requested model (by public id or by the name asked
   * for) that serve the operation and accept the input. None for raw compatible-surface
   * inputs: they only fit the model they were written for.
   */
  private fallbacksOf(
    requested: string,
    resolved: ResolvedModel,
    operation: Operation,
    input: GenerationInput,
    raw: Record<string, unknown> | undefined,
  ): ResolvedModel[] {
    const names = this.deps.fallbacks?.[resolved.publicId] ?? this.deps.fallbacks?.[requested];
    if (raw || !names) return [];
    const usable: ResolvedModel[] = [];
    for (const name of names) {
      try {
        const model = this.deps.models.resolve(name, operation);
        if (model.adapter.validate(operation, model.model, input).length === 0) usable.push(model);
      } catch {
        // Unknown model, or one without this operation: not a fallback for this create.
      }
    }
    return usable;
  }

  /** The job a create whose answer was lost started, where its adapter can find it for sure. */
  private async recover(
    target: StartTarget,
    call: RecoverCall,
    taskId: string,
  ): Promise<UpstreamSnapshot | undefined> {
    const adapter = target.model.adapter;
    if (!adapter.recover) return undefined;
    const log = { taskId, provider: target.model.provider, credentialId: target.credential.id };
    try {
      const found = await adapter.recover(call);
      if (found) {
        this.deps.logger.warn(
          { ...log, upstreamId: found.upstreamId },
          'create answer lost; the upstream job was found and is followed',
        );
      }
      return found;
    } catch (err) {
      this.deps.logger.warn({ ...log, code: toTaskError(err).code }, 'recovering a create failed');
      return undefined;
    }
  }

  /**
   * A slot on another credential than those tried for this create (`failed` is added to
   * them), or undefined when none is usable.
   */
  private async otherCredential(
    pool: CredentialPool,
    tried: Set<string>,
    failed: string,
  ): Promise<Credential | undefined> {
    tried.add(failed);
    try {
      return await pool.reserve(tried);
    } catch {
      return undefined;
    }
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

  /**
   * Resolves on the next visible change of task `id` written by this process, after
   * `timeoutMs`, or when `signal` aborts; costs one closure and one timer (SSE followers).
   * Register it before re-reading the task, so a change in between is not missed.
   */
  nextChange(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.deps.events.next(id, timeoutMs, signal);
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

  /** The fields (and state) asking `model`'s upstream to call back for the task, if it can. */
  private callbackPlan(
    model: ResolvedModel,
    taskId: string,
    operation: Operation,
  ): CallbackPlan | undefined {
    const base = this.deps.callbackBaseUrl;
    const callbacks = model.adapter.callbacks;
    if (!base || !callbacks) return undefined;
    const url = `${base}/callbacks/${encodeURIComponent(model.provider)}/${encodeURIComponent(taskId)}`;
    return callbacks.prepare({ taskId, operation, url });
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
    for (let attempt = 0; attempt < 5; attempt++) {
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
      const next = this.applySnapshot({ ...task, lastContactAt: this.now() }, snapshot);
      const kept = isTerminal(next.status) ? next : { ...next, nextPollAt: task.nextPollAt };
      const written = await this.write(kept, task);
      if (written) return { applied: true, task: written };
    }
    return { applied: false, reason: 'task kept changing' };
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
      this.deps.metrics?.pollDone(task.provider, 'skipped');
      await this.write(this.failed(task, { code: 'no_credential_available', message }), task);
      return;
    }
    // Over the credential's poll budget: back to the store with a later poll time, not polled.
    const wait = this.deps.pollBudget?.admit(task.provider, task.credentialId, task.id, now) ?? 0;
    if (wait > 0) {
      await this.write({ ...task, nextPollAt: now + wait }, task);
      return;
    }
    let next: TaskRecord;
    let outcome: PollOutcome = 'ok';
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
      this.deps.pools.get(task.provider)?.reportOutcome(task.credentialId, 'success', 'poll');
    } catch (err) {
      this.deps.pools.get(task.provider)?.reportOutcome(task.credentialId, { error: err }, 'poll');
      next = this.afterFailedPoll(task, err, now);
      outcome = next.status === 'failed' ? 'failed' : 'retry';
    }
    this.deps.metrics?.pollDone(task.provider, outcome);
    await this.write(next, task);
  }

  private afterFailedPoll(task: TaskRecord, err: unknown, now: number): TaskRecord {
    const error = toTaskError(err);
    const retryable = !isGatewayError(err) || err.retryable;
    if (!retryable) return this.failed(task, error);
    const { unreachableDeadlineMs } = this.deps.polling;
    const failingFor = now - task.lastContactAt;
    if (failingFor > unreachableDeadlineMs) {
      return this.failed(task, {
        code: 'upstream_timeout',
        message: `${task.provider} could not be reached for ${duration(failingFor)} (limit ${duration(unreachableDeadlineMs)}, UPSTREAM_UNREACHABLE_DEADLINE_MS); the task was given up. Last error: ${error.message}`,
      });
    }
    this.deps.logger.warn(
      { taskId: task.id, provider: task.provider, code: error.code },
      'poll failed, will retry',
    );
    const retryAfter = isGatewayError(err) ? err.retryAfterMs : undefined;
    const attempts = task.pollAttempts + 1;
    // Backoff: wait about as long as the upstream has been failing (so retries double), but
    // ask once more right after the deadline, so that the verdict comes on time.
    const backoff = Math.min(
      this.deps.polling.maxIntervalMs,
      Math.round(failingFor * (0.9 + Math.random() * 0.2)),
      unreachableDeadlineMs - failingFor + 1,
    );
    const wait = Math.max(this.delay(task, attempts, retryAfter), backoff);
    return { ...task, pollAttempts: attempts, nextPollAt: now + wait };
  }

  /**
   * Interval before the next poll: the base interval of the provider and operation (see
   * PollingPolicy), doubled every 10 polls as the task ages (capped by maxIntervalMs),
   * jittered ±10%. An upstream hint (ModelsLab `eta`, Retry-After) is a floor: never ask
   * before it, even when it exceeds maxIntervalMs (bounded by the unreachable deadline).
   */
  private delay(task: TaskRecord, attempts: number, hintMs?: number): number {
    const { maxIntervalMs, unreachableDeadlineMs } = this.deps.polling;
    const intervalMs = Math.min(this.baseInterval(task), maxIntervalMs);
    const aged = Math.min(maxIntervalMs, intervalMs * 2 ** Math.floor(attempts / 10));
    const jittered = Math.round(aged * (0.9 + Math.random() * 0.2));
    const hint = Math.min(hintMs ?? 0, unreachableDeadlineMs);
    return Math.max(jittered, Math.round(hint * (1 + Math.random() * 0.1)));
  }

  private baseInterval(task: TaskRecord): number {
    const { intervalMs, intervalOverridesAdapters } = this.deps.polling;
    if (intervalOverridesAdapters) return intervalMs;
    const own = this.deps.models.adapter(task.provider)?.pollIntervalMs?.(task.type);
    return own !== undefined && own > 0 ? own : intervalMs;
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
      upstreamState: s.state ? keepCallbackState(s.state, task.upstreamState) : task.upstreamState,
      completedAt: terminal ? now : null,
      nextPollAt: terminal ? null : now + this.delay(task, task.pollAttempts, s.pollAfterMs),
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
    const updatedAt = visible ? now : prev.updatedAt;
    let record = withChange({ ...next, version: prev.version + 1, updatedAt }, prev, now);
    // The webhook dispatcher writes delivery bookkeeping only (claims, attempt outcomes): a
    // write of its in between is no conflict, and this change is re-applied on top of it.
    for (let rebase = 0; !(await this.deps.store.update(record)); rebase++) {
      const fresh = rebase < 5 ? await this.deps.store.get(prev.id) : undefined;
      if (!fresh || !onlyWebhookStateDiffers(prev, fresh)) return undefined;
      const { webhook, nextWebhookAt } = fresh;
      const onFresh = { ...next, webhook, nextWebhookAt, version: fresh.version + 1, updatedAt };
      record = withChange(onFresh, fresh, now);
    }
    if (record.status !== prev.status) {
      this.deps.metrics?.taskChanged(record.provider, prev.status, record.status);
    }
    if (isTerminal(record.status) && !isTerminal(prev.status)) {
      this.deps.pools.get(record.provider)?.release(record.credentialId);
    }
    if (record.nextPollAt !== null) this.deps.onScheduled?.(record.nextPollAt);
    if (record.nextWebhookAt != null) this.deps.onWebhookScheduled?.(record.nextWebhookAt);
    if (visible) this.deps.events.notify(record.id);
    return record;
  }
}

/** Whether `fresh` differs from `prev` in webhook bookkeeping only (what the dispatcher writes). */
function onlyWebhookStateDiffers(prev: TaskRecord, fresh: TaskRecord): boolean {
  const rest = ({ version: _v, webhook: _w, nextWebhookAt: _n, ...other }: TaskRecord) => other;
  return prev.webhook?.url === fresh.webhook?.url && isDeepStrictEqual(rest(prev), rest(fresh));
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

/** `1500` → `1.5 s`, `600000` → `10 min`. */
function duration(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 6000) / 10} min`;
}

/** The upstream state a new task starts with: what its callback plan keeps, if anything. */
function callbackStateOf(plan: CallbackPlan | undefined): Record<string, unknown> {
  return plan?.state ? { [CALLBACK_STATE_KEY]: plan.state } : {};
}

/** Adapter state replaces the old one, but the callback state (not the adapter's) stays. */
function keepCallbackState(
  state: Record<string, unknown>,
  previous: Record<string, unknown>,
): Record<string, unknown> {
  const kept = previous[CALLBACK_STATE_KEY];
  return kept === undefined ? state : { ...state, [CALLBACK_STATE_KEY]: kept };
}

const STATUS_RANK: Readonly<Record<TaskStatus, number>> = {
  queued: 0,
  running: 1,
  succeeded: 2,
  failed: 2,
  canceled: 2,
};

/** Whether a callback's status is past the task's (or, both running, further along). */
function movesForward(task: TaskRecord, s: UpstreamSnapshot): boolean {
  const from = STATUS_RANK[task.status];
  const to = STATUS_RANK[s.status];
  if (to !== from) return to > from;
  return s.status === 'running' && (s.progress ?? 0) > (task.progress ?? 0);
}

function toTaskError(err: unknown): TaskError {
  if (isGatewayError(err)) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'Unexpected error while talking to the provider' };
}
