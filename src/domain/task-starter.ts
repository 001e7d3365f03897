import { monotonicUlid } from './ulids.js';
import type { Operation } from '../contracts/common.js';
import { GatewayError } from '../errors/gateway-error.js';
import { checkAccess, modelAllowed, namesOf, type Caller } from './access.js';
import type { TaskCosts } from './costs.js';
import { callerUrlsOf, checkCallerUrls } from './caller-urls.js';
import type { CredentialPool } from './credential-pool.js';
import {
  IdempotencyKeys,
  fingerprintOf,
  type IdempotencyPolicy,
  type IdempotencyRequest,
  type IdempotentOutcome,
} from './idempotency.js';
import type { Logger } from './logger.js';
import type { ModelRegistry, ResolvedModel } from './models.js';
import type {
  CallbackPlan,
  Credential,
  GenerationInput,
  RecoverCall,
  StartCall,
  UpstreamSnapshot,
} from './ports.js';
import { fallbackModels, StartFailover, type StartTarget } from './start-failover.js';
import { outcomeUnknownError, startFailureOf } from './start-outcome.js';
import type { OutputLinks, TaskRecord, WebhookEvent, WebhookFormat } from './task-record.js';
import type { TaskStore } from './task-store.js';
import { queuedTask, storeQueued } from './queued-task.js';
import { applySnapshot, callbackStateOf, toTaskError } from './task-transitions.js';
import type { TaskWriter } from './task-writer.js';
import { videoRefOf, videoRefUrl } from './video-refs.js';

export interface CreateTaskInput extends GenerationInput {
  model: string;
  metadata?: Record<string, string>;
  webhook?: { url: string; events: WebhookEvent[]; format?: WebhookFormat };
  /**
   * The caller's deadline, in seconds from the create: past it the task is canceled upstream
   * where the provider can, else given up (`deadline_exceeded`), and never polled again.
   */
  timeout_seconds?: number;
}

export interface CreateOptions {
  /**
   * The upstream's own input, from a compatible surface: handed to the adapter as
   * `StartCall.raw` in place of the normalized fields, which are then not checked against the
   * model's rules (the upstream validates its own input).
   */
  raw?: Record<string, unknown>;
  /**
   * What an Idempotency-Key's fingerprint covers in place of `raw`: the input as the caller sent
   * it, when the surface rewrote it (links to uploaded files made reachable for the upstream).
   */
  fingerprintRaw?: Record<string, unknown>;
  /** The request's Idempotency-Key and the surface it came through (see idempotency.ts). */
  idempotency?: IdempotencyRequest;
  /** The key that creates (its id and rules), checked before anything is claimed or spent. */
  caller?: Caller;
}

export interface TaskStarterDeps {
  store: TaskStore;
  writer: TaskWriter;
  models: ModelRegistry;
  pools: ReadonlyMap<string, CredentialPool>;
  logger: Logger;
  now: () => number;
  /** How long after the upstream's answer (with its hint) a new task is polled first. */
  pollDelayMs: (task: TaskRecord, hintMs: number | undefined) => number;
  /** The tenant's task, for replays of an Idempotency-Key (404 when not theirs). */
  getTask: (tenant: string, id: string) => Promise<TaskRecord>;
  /**
   * Refuses a webhook URL genway must not call for `tenant` (SSRF rules, no signing secret for
   * that tenant): throws a GatewayError. Absent: webhooks are refused.
   */
  checkWebhookUrl?: (url: string, tenant: string) => Promise<void>;
  /**
   * Refuses a caller URL the upstream would fetch (`image`, `video`, URLs in a raw input) at an
   * address genway's outbound rules refuse (loopback, private, link-local, metadata; DNS
   * resolved; OUTBOUND_ALLOWLIST applies): throws a GatewayError naming `field`. Absent: only
   * the scheme is checked.
   */
  checkCallerUrl?: (field: string, url: string) => Promise<void>;
  /**
   * Handed to adapters as `StartCall.publishMedia`, bound to the create's tenant (whose quota
   * the bytes count against); set only when PUBLIC_URL is configured.
   */
  publishMedia?: (bytes: Buffer, contentType: string, tenant: string) => Promise<string>;
  /**
   * Signed links under PUBLIC_URL to stored outputs (media storage on and PUBLIC_URL set): a
   * `video: "task_…"` reference then hands the upstream genway's copy, which outlives its link.
   */
  storedOutputLinks?: OutputLinks;
  /**
   * The URL where `provider`'s upstream calls back about `taskId` (see upstream-callbacks.ts).
   * Set: adapters with `callbacks` ask their upstream to call back. Unset: polls only.
   */
  callbackUrl?: (provider: string, taskId: string) => string;
  /** Idempotency-Key expiry and wait (IDEMPOTENCY_TTL_SECONDS, IDEMPOTENCY_WAIT_MS). */
  idempotency?: Partial<IdempotencyPolicy>;
  /**
   * Models a create may move to when its model's provider provably got nothing (`fallbacks`
   * in GATEWAY_CONFIG): public model id or alias → fallback models, in order.
   */
  fallbacks?: Readonly<Record<string, readonly string[]>>;
  /** Estimates, budget reservations and charges; absent: tasks carry no cost. */
  costs?: TaskCosts;
}

/** Upstream calls one create may make when the earlier ones provably sent nothing. */
const MAX_START_ATTEMPTS = 4;

const newUlid = monotonicUlid();
const newTaskId = () => `task_${newUlid()}`;

/**
 * Creates tasks: stores each one, then starts its upstream job, moving to another credential
 * or a fallback model when an attempt provably sent nothing (see start-outcome.ts).
 */
export class TaskStarter {
  private readonly idempotency: IdempotencyKeys;

  constructor(private readonly deps: TaskStarterDeps) {
    this.idempotency = new IdempotencyKeys({
      store: deps.store,
      policy: deps.idempotency,
      now: deps.now,
      getTask: deps.getTask,
    });
  }

  /**
   * Creates the task, also saying whether the answer is a replay: with `options.idempotency`,
   * a key already used with the same body gives the original outcome and starts nothing.
   */
  async createOrReplay(
    tenant: string,
    operation: Operation,
    request: CreateTaskInput,
    options: CreateOptions = {},
  ): Promise<IdempotentOutcome> {
    // The key's rules first: a create it may not make claims no Idempotency-Key.
    const resolved = this.deps.models.resolve(request.model, operation);
    checkAccess(options.caller?.rules, operation, namesOf(request.model, resolved));
    const key = options.idempotency;
    if (!key) {
      return { task: await this.create(tenant, operation, request, options), replayed: false };
    }
    return this.idempotency.run(
      { tenant, surface: key.surface, key: key.key },
      fingerprintOf({ operation, request, raw: options.fingerprintRaw ?? options.raw ?? null }),
      (reserveKey) => this.create(tenant, operation, request, options, reserveKey),
    );
  }

  /**
   * Stores the task, then starts the upstream job. A failure that provably sent nothing moves
   * the create to another credential or a fallback model (bounded); one that may have started
   * a job is never re-sent (see start-outcome.ts).
   */
  private async create(
    tenant: string,
    operation: Operation,
    request: CreateTaskInput,
    options: CreateOptions,
    /** Names the task on its Idempotency-Key before it is stored (so before any upstream call). */
    reserveKey?: (taskId: string) => Promise<void>,
  ): Promise<TaskRecord> {
    const { model: requested, metadata, webhook, timeout_seconds: timeout, ...given } = request;
    const resolved = this.deps.models.resolve(requested, operation);
    if (webhook) await this.checkWebhook(webhook.url, tenant);
    const input = await this.resolveVideoRef(tenant, operation, given);
    const ruleErrors = options.raw
      ? []
      : resolved.adapter.validate(operation, resolved.model, input);
    if (ruleErrors.length > 0) throw GatewayError.invalid(ruleErrors);
    // The caller's own URLs (not task ids resolved to outputs), before anything is stored or sent.
    await checkCallerUrls(callerUrlsOf(given, options.raw), resolved, this.deps.checkCallerUrl);
    const pool = this.deps.pools.get(resolved.provider);
    if (!pool) {
      throw new GatewayError(
        'no_credential_available',
        `No credential configured for ${resolved.provider}`,
      );
    }
    const taskId = newTaskId();
    const costs = this.deps.costs;
    const estimated = costs?.estimate(namesOf(requested, resolved), operation, input) ?? null;
    // The estimate is held against the tenant's budget before anything else: 402 otherwise.
    await costs?.reserve(tenant, taskId, estimated);
    let callbackPlan = this.callbackPlan(resolved, taskId, operation);
    // Its times count from when it got its slot.
    const queuedOn = (credential: Credential) => {
      const now = this.deps.now();
      return queuedTask({
        id: taskId,
        tenant,
        operation,
        model: resolved,
        credential,
        metadata,
        webhook,
        callbackPlan,
        now,
        keyId: options.caller?.keyId ?? null,
        estimated: costs ? estimated : undefined,
        deadlineAt: timeout === undefined ? null : now + timeout * 1000,
      });
    };
    // Stored before the upstream call, so a crash mid-create still leaves a trace of the job.
    const { task: queued, credential } = await storeQueued(
      this.deps.writer,
      pool,
      tenant,
      taskId,
      queuedOn,
      reserveKey,
    ).catch(async (err: unknown) => {
      await costs?.release(taskId);
      throw err;
    });

    let snapshot: UpstreamSnapshot;
    let current = queued;
    let target: StartTarget = { model: resolved, pool, credential };
    const failover = new StartFailover(
      this.deps.pools,
      // Only fallbacks the caller's key may use.
      fallbackModels(this.deps.models, this.deps.fallbacks, {
        requested,
        resolved,
        operation,
        input,
        raw: options.raw,
      }).filter((m) => modelAllowed(options.caller?.rules, namesOf(m.publicId, m))),
      tenant,
      queued.id,
    );
    const write = this.deps.writer.write.bind(this.deps.writer);
    const publish = this.deps.publishMedia;
    for (let attempt = 1; ; attempt++) {
      const call: StartCall = {
        operation,
        model: target.model.model,
        input,
        credential: target.credential,
        ...(publish ? { publishMedia: (bytes, type) => publish(bytes, type, tenant) } : {}),
        ...(options.raw ? { raw: options.raw } : {}),
        ...(callbackPlan ? { callbackFields: callbackPlan.fields } : {}),
        ...(queued.deadlineAt != null ? { deadlineAt: queued.deadlineAt } : {}),
      };
      const sentAt = this.deps.now();
      try {
        snapshot = await target.model.adapter.start(call);
        target.pool.reportOutcome(target.credential.id, 'success');
        break;
      } catch (err) {
        target.pool.reportOutcome(target.credential.id, { error: err });
        const next = attempt < MAX_START_ATTEMPTS ? await failover.next(target, err) : undefined;
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
          current = (await write(moved, current)) ?? moved;
          // The task moved (the store freed its old slot); a slot reserved for it goes back.
          target.pool.release(target.credential.id, tenant, queued.id);
          target = next;
          continue;
        }
        let failure = err;
        if (startFailureOf(err) === 'unknown') {
          const recovered = await this.recover(target, { ...call, sentAt }, queued.id);
          if (recovered) {
            snapshot = recovered;
            break;
          }
          failure = outcomeUnknownError(target.model.provider, queued.id, err);
          this.deps.logger.error(
            {
              taskId: queued.id,
              provider: target.model.provider,
              credentialId: target.credential.id,
              code: toTaskError(err).code,
            },
            'create may have started an upstream job without an answer; not re-sent',
          );
        }
        const error = toTaskError(failure);
        await write(
          { ...current, status: 'failed', error, completedAt: queued.createdAt },
          current,
        );
        throw failure;
      }
    }
    const answeredAt = this.deps.now();
    const started = applySnapshot(
      current,
      snapshot,
      answeredAt,
      (hint) => answeredAt + this.deps.pollDelayMs(current, hint),
    );
    return (await write(started, current)) ?? (await this.deps.store.get(queued.id)) ?? started;
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

  /** `video: "task_…"` becomes the first output of that task (see video-refs.ts). */
  private async resolveVideoRef(
    tenant: string,
    operation: Operation,
    input: GenerationInput,
  ): Promise<GenerationInput> {
    const ref = videoRefOf(operation, input.video);
    if (!ref) return input;
    const source = await this.deps.store.get(ref);
    const video = videoRefUrl(ref, source, tenant, this.deps.now(), this.deps.storedOutputLinks);
    return { ...input, video };
  }

  private async checkWebhook(url: string, tenant: string): Promise<void> {
    if (!this.deps.checkWebhookUrl) {
      const message = 'Webhooks are not enabled on this gateway (WEBHOOK_SECRET is not set)';
      throw GatewayError.invalid([{ path: 'webhook', message }], message);
    }
    await this.deps.checkWebhookUrl(url, tenant);
  }

  /** The fields (and state) asking `model`'s upstream to call back for the task, if it can. */
  private callbackPlan(
    model: ResolvedModel,
    taskId: string,
    operation: Operation,
  ): CallbackPlan | undefined {
    const callbacks = model.adapter.callbacks;
    if (!this.deps.callbackUrl || !callbacks) return undefined;
    const url = this.deps.callbackUrl(model.provider, taskId);
    return callbacks.prepare({ taskId, operation, url });
  }
}
