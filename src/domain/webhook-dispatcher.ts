import type { Logger } from './logger.js';
import type { TaskStore } from './task-store.js';
import type { DomainMetrics } from './metrics.js';
import type { WebhookSender } from './ports.js';
import { DueLoop } from './due-loop.js';
import type { DueSignal } from './due-signal.js';
import {
  publicOutputs,
  type OutputLinks,
  type TaskRecord,
  type WebhookDelivery,
} from './task-record.js';
import { boundedDeliveries } from './webhook-deliveries.js';

/**
 * Waits after failed attempts 1, 2, …: the last entry is the last wait, and the attempt after
 * it is the final one (1 + schedule length attempts in all, about 16 h with the default).
 */
export const DEFAULT_WEBHOOK_SCHEDULE_MS: readonly number[] = [
  5_000,
  30_000,
  2 * 60_000,
  10 * 60_000,
  30 * 60_000,
  60 * 60_000,
  2 * 60 * 60_000,
  4 * 60 * 60_000,
  8 * 60 * 60_000,
];

export interface WebhookDispatcherOptions {
  /** Waits between attempts (see DEFAULT_WEBHOOK_SCHEDULE_MS); tests use milliseconds. */
  scheduleMs?: readonly number[];
  /** How many tasks with due deliveries one claim takes from the store. */
  batchSize?: number;
  /**
   * Attempts in flight at once (the worker pool): a receiver that hangs holds one worker for
   * at most the sender's time cap, never the others. Default 32.
   */
  concurrency?: number;
  /**
   * Attempts in flight at once to the receivers of one tenant: a tenant's slow receivers
   * cannot take every worker. Default 4.
   */
  perTenantConcurrency?: number;
  /**
   * How long a claimed task of a tenant at its cap is put back before it is claimed again.
   * Default 1000 ms.
   */
  tenantBusyDeferMs?: number;
  /**
   * How long a claimed task is hidden from other passes (and other processes) while one of its
   * deliveries is attempted. Also the longest a delivery waits after a crash mid-attempt. Must
   * exceed the sender's time cap.
   */
  leaseMs?: number;
  /** Upper bound on sleeping between passes (picks up deliveries written by other processes). */
  idleMs?: number;
  metrics?: Pick<DomainMetrics, 'webhookDelivery'>;
  /** Raised when a delivery gets an attempt time in this process (the task writer). */
  due?: DueSignal;
  /**
   * Signed links of stored outputs (under PUBLIC_URL): a succeeded payload gets fresh ones at
   * every attempt, since links expire and the stored payload was written without them.
   */
  links?: OutputLinks;
  now?: () => number;
}

/** The bookkeeping of one delivery that an attempt changes. */
type Outcome = Pick<
  WebhookDelivery,
  'status' | 'attempts' | 'nextAttemptAt' | 'lastStatus' | 'lastError' | 'deliveredAt'
>;

const CONFLICT_RETRIES = 10;

/**
 * Delivers the client webhooks recorded on tasks (TaskWriter writes them as `pending`
 * deliveries in the same store update as the change that caused them). A task with a due
 * delivery is claimed from the store with a lease and handed to one of a bounded pool of
 * workers (see DueLoop), which makes ONE attempt: the oldest pending delivery of the task (a
 * later one waits while an earlier one is still pending). Its outcome is written back with
 * compare-and-set, merged by delivery id into whatever the poller wrote meanwhile, and the
 * task's next delivery waits for the next claim. So a receiver that hangs holds one worker for
 * one attempt at a time, and a tenant's receivers hold at most `perTenantConcurrency` workers:
 * the other tenants' webhooks keep flowing. 2xx: delivered. Anything else: retried on a
 * growing schedule with the same `webhook-id`, then given up (`failed`) with the last status
 * and error kept on the task.
 */
export class WebhookDispatcher {
  private inFlight = new AbortController();
  private readonly schedule: readonly number[];
  private readonly leaseMs: number;
  private readonly now: () => number;
  private readonly loop: DueLoop<TaskRecord>;
  private readonly perTenant: number;
  private readonly tenantBusyDeferMs: number;
  /** Attempts in flight per tenant. */
  private readonly tenantAttempts = new Map<string, number>();

  constructor(
    private readonly store: TaskStore,
    private readonly sender: WebhookSender,
    private readonly logger: Logger,
    private readonly options: WebhookDispatcherOptions = {},
  ) {
    this.schedule = options.scheduleMs ?? DEFAULT_WEBHOOK_SCHEDULE_MS;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.perTenant = Math.max(1, options.perTenantConcurrency ?? 4);
    this.tenantBusyDeferMs = options.tenantBusyDeferMs ?? 1000;
    this.loop = new DueLoop({
      name: 'webhook delivery',
      claim: (now, limit) => store.claimDueWebhooks(now, limit, this.leaseMs),
      nextDueAt: () => store.nextWebhookDueAt(),
      handle: (task) => this.deliverTask(task),
      idOf: (task) => task.id,
      logger,
      batchSize: options.batchSize ?? 32,
      concurrency: options.concurrency ?? 32,
      idleMs: options.idleMs ?? 1000,
      wakeOn: options.due,
      now: this.now,
    });
  }

  private get stopped(): boolean {
    return this.loop.isStopped;
  }

  start(): void {
    this.inFlight = new AbortController();
    this.loop.start();
  }

  /**
   * Stops the loop and aborts attempts in flight: an aborted attempt is not counted, and its
   * delivery is left due so that the next start (this process or another) sends it again.
   */
  async stop(): Promise<void> {
    const stopping = this.loop.stop();
    this.inFlight.abort(new Error('gateway shutting down'));
    await stopping;
  }

  /**
   * One attempt of the due head of the task's pending deliveries (if its tenant has a free
   * place), then releases the claim with the task's next due time and wakes the loop for it.
   */
  private async deliverTask(claimed: TaskRecord): Promise<void> {
    const head = firstPending(claimed);
    if (!head || !this.isDue(head) || this.stopped) {
      this.release(await this.record(claimed, null, null));
      return;
    }
    const tenant = claimed.tenant;
    const busy = this.tenantAttempts.get(tenant) ?? 0;
    if (busy >= this.perTenant) {
      // The tenant's receivers hold their share of workers: this one waits its turn.
      const notBefore = this.now() + this.tenantBusyDeferMs;
      this.release(await this.record(claimed, null, null, notBefore));
      return;
    }
    this.tenantAttempts.set(tenant, busy + 1);
    let outcome: Outcome | undefined;
    try {
      outcome = await this.attempt(claimed, head);
    } finally {
      const left = (this.tenantAttempts.get(tenant) ?? 1) - 1;
      if (left > 0) this.tenantAttempts.set(tenant, left);
      else this.tenantAttempts.delete(tenant);
    }
    // Aborted by stop(): not counted, left due (the claim is released all the same).
    const written = outcome
      ? await this.record(claimed, head.id, outcome)
      : await this.record(claimed, null, null);
    this.release(written);
  }

  /** Wakes the loop for the task's next due delivery (the next one of the task, often now). */
  private release(task: TaskRecord | undefined): void {
    const at = task?.nextWebhookAt;
    if (at != null && !this.stopped) this.loop.wake(at);
  }

  /** A pending delivery always has an attempt time; one without counts as due. */
  private isDue(delivery: WebhookDelivery): boolean {
    return (delivery.nextAttemptAt ?? 0) <= this.now();
  }

  /** One POST of `delivery`; undefined when it was aborted by stop(). */
  private async attempt(task: TaskRecord, delivery: WebhookDelivery): Promise<Outcome | undefined> {
    const url = task.webhook!.url;
    const attempts = delivery.attempts + 1;
    let status: number | null = null;
    let error: string | null = null;
    try {
      // genway's own task body: fresh links to stored outputs (surface bodies made theirs).
      const own = task.webhook?.format ? undefined : (delivery.payload as { status?: unknown });
      const payload =
        this.options.links && own?.status === 'succeeded'
          ? { ...own, outputs: publicOutputs(task, this.options.links) }
          : delivery.payload;
      const body = JSON.stringify(payload);
      ({ status } = await this.sender.send(
        url,
        { id: delivery.id, timestamp: new Date(this.now()), body, tenant: task.tenant },
        this.inFlight.signal,
      ));
      if (status < 200 || status > 299) {
        error =
          status >= 300 && status < 400
            ? `The receiver answered HTTP ${status}; redirects are not followed`
            : `The receiver answered HTTP ${status}`;
      }
    } catch (err) {
      if (this.inFlight.signal.aborted) return undefined;
      error = err instanceof Error && err.message ? err.message : 'The delivery failed';
    }
    const now = this.now();
    const log = { taskId: task.id, webhookId: delivery.id, event: delivery.event, attempts };
    if (error === null) {
      this.options.metrics?.webhookDelivery('delivered');
      this.logger.info({ ...log, status }, 'webhook delivered');
      return {
        status: 'delivered',
        attempts,
        nextAttemptAt: null,
        lastStatus: status,
        lastError: null,
        deliveredAt: now,
      };
    }
    const wait = this.schedule[attempts - 1];
    if (wait === undefined) {
      this.options.metrics?.webhookDelivery('failed');
      this.logger.warn({ ...log, status, error }, 'webhook given up after the last attempt');
      return {
        status: 'failed',
        attempts,
        nextAttemptAt: null,
        lastStatus: status,
        lastError: error,
        deliveredAt: null,
      };
    }
    // Up to 10% later, so receivers coming back after an outage are not hit all at once.
    const nextAttemptAt = now + Math.round(wait * (1 + Math.random() * 0.1));
    this.options.metrics?.webhookDelivery('retry');
    this.logger.warn({ ...log, status, error, retryInMs: nextAttemptAt - now }, 'webhook failed');
    return {
      status: 'pending',
      attempts,
      nextAttemptAt,
      lastStatus: status,
      lastError: error,
      deliveredAt: null,
    };
  }

  /**
   * Writes `outcome` of delivery `id` (if any) with compare-and-set, and releases the claim:
   * `nextWebhookAt` becomes the next due attempt (not before `notBefore`), or null. On a
   * conflict the fresh record is re-read and the outcome merged into it by delivery id. Returns
   * the record as written, undefined if it is gone or kept changing.
   */
  private async record(
    base: TaskRecord,
    id: string | null,
    outcome: Outcome | null,
    notBefore = 0,
  ): Promise<TaskRecord | undefined> {
    let current: TaskRecord | undefined = base;
    for (let conflict = 0; current && conflict < CONFLICT_RETRIES; conflict++) {
      const deliveries = current.webhook?.deliveries ?? [];
      // A delivery superseded meanwhile (a newer progress message) is no longer there.
      const merged = boundedDeliveries(
        id && outcome
          ? deliveries.map((d) => (d.id === id ? mergeOutcome(d, outcome) : d))
          : deliveries,
      );
      const next: TaskRecord = {
        ...current,
        webhook: current.webhook && { ...current.webhook, deliveries: merged },
        version: current.version + 1,
      };
      const head = firstPending(next);
      next.nextWebhookAt = head ? Math.max(head.nextAttemptAt ?? this.now(), notBefore) : null;
      if (await this.store.update(next)) return next;
      current = await this.store.get(base.id);
    }
    if (current) {
      this.logger.error(
        { taskId: base.id, webhookId: id },
        'webhook outcome not recorded: task kept changing',
      );
    }
    return undefined;
  }
}

/** The delivery that goes next: the oldest still pending (deliveries are kept in creation order). */
function firstPending(task: TaskRecord): WebhookDelivery | undefined {
  return task.webhook?.deliveries.find((d) => d.status === 'pending');
}

/**
 * Applies an attempt's outcome to the stored delivery without going backwards: a delivery
 * already delivered or given up stays so, and attempts are never counted twice (the outcome
 * carries the absolute count, and a higher stored count wins).
 */
function mergeOutcome(stored: WebhookDelivery, outcome: Outcome): WebhookDelivery {
  if (stored.status !== 'pending') return stored;
  if (outcome.status === 'delivered') {
    return { ...stored, ...outcome, attempts: Math.max(stored.attempts, outcome.attempts) };
  }
  if (stored.attempts >= outcome.attempts) return stored;
  return { ...stored, ...outcome };
}
