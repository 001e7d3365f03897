import { monotonicUlid } from './ulids.js';
import type { TaskCosts } from './costs.js';
import type { CredentialPool } from './credential-pool.js';
import type { DueSignals } from './due-signal.js';
import type { Logger } from './logger.js';
import type { DomainMetrics } from './metrics.js';
import type { OutputCopies } from './output-copies.js';
import type { TaskEvents } from './task-events.js';
import { isTerminal, type TaskRecord } from './task-record.js';
import type { TaskStore, UpdateAndSettle } from './task-store.js';
import { isVisibleChange, onlyWebhookStateDiffers, recordChange } from './task-transitions.js';

export interface TaskWriterDeps {
  store: TaskStore;
  /** Credential slots, released when a task reaches a terminal status. */
  pools: ReadonlyMap<string, CredentialPool>;
  events: TaskEvents;
  /** Raised with every poll time and webhook attempt time written, for the loops doing them. */
  due?: DueSignals;
  metrics?: DomainMetrics;
  /** Media storage on: a success is held back until its outputs are copied (architecture §9). */
  copies?: OutputCopies;
  now?: () => number;
  /** Charges a task at its terminal status and settles its budget reservation and ledger entry. */
  costs?: TaskCosts;
  /**
   * Webhook body formats of compatible surfaces, by `WebhookFormat.name`: the surface's own
   * object for the task as it is now, links under `base`. A webhook whose format is not here
   * gets genway's task.
   */
  webhookBodies?: ReadonlyMap<string, (task: TaskRecord, base: string) => unknown>;
  logger?: Logger;
}

const newUlid = monotonicUlid();
const newMessageId = () => `msg_${newUlid()}`;

/** Rebases over the dispatcher's bookkeeping writes before a write is given up. */
const MAX_REBASES = 5;

/**
 * The one way task changes reach the store: compare-and-set writes, then what follows a
 * write (the change history and webhook messages on the record, metrics, the credential
 * slot of a finished task, waking waiters and the poll and webhook loops).
 */
export class TaskWriter {
  private readonly now: () => number;

  constructor(private readonly deps: TaskWriterDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** `write`, as one function for every scheduled copy (no closure per task). */
  private readonly writeTask = (next: TaskRecord, prev: TaskRecord) => this.write(next, prev);

  /** A formatted webhook body for `task`, when its webhook has a registered format. */
  private readonly formatBody = (task: TaskRecord): unknown => {
    const format = task.webhook?.format;
    return format && this.deps.webhookBodies?.get(format.name)?.(task, format.base);
  };

  /** Stores a new task (it has no previous state: nothing to compare). */
  async insert(task: TaskRecord): Promise<void> {
    await this.deps.store.insert(task);
    this.deps.metrics?.taskChanged(task.provider, null, task.status);
  }

  /** Whether the store can take a credential slot in the insert itself (insertWithinCap). */
  get insertsWithinCap(): boolean {
    return this.deps.store.insertWithinCap !== undefined;
  }

  /** `insert` only while the task's credential holds fewer than `cap` slots (cluster mode). */
  async insertWithinCap(task: TaskRecord, cap: number): Promise<boolean> {
    if (!(await this.deps.store.insertWithinCap!(task, cap))) return false;
    this.deps.metrics?.taskChanged(task.provider, null, task.status);
    return true;
  }

  /**
   * Persists `next` over `prev` (compare-and-set) and tells waiters when something a client
   * can see changed. A lost race (another writer got there first) is left to that writer:
   * undefined.
   */
  async write(next: TaskRecord, prev: TaskRecord): Promise<TaskRecord | undefined> {
    const copies = this.deps.copies;
    if (copies?.wants(next, prev)) {
      const held = await this.write(copies.hold(next, prev), prev);
      if (held) copies.schedule(held, this.writeTask);
      return held;
    }
    const finishing = isTerminal(next.status) && !isTerminal(prev.status);
    const costs = this.deps.costs;
    if (finishing && costs) next = costs.charge(next);
    const visible = isVisibleChange(prev, next);
    const now = this.now();
    const updatedAt = visible ? now : prev.updatedAt;
    let record = recordChange(
      { ...next, version: prev.version + 1, updatedAt },
      prev,
      now,
      newMessageId,
      this.formatBody,
    );
    // A finishing write carries its settlement in its own commit, where the store can.
    const store = this.deps.store;
    const settleWith = finishing && store.updateAndSettle ? costs : undefined;
    let settlement: UpdateAndSettle | undefined;
    const put = async (task: TaskRecord): Promise<boolean> => {
      if (!settleWith) return store.update(task);
      settlement = await store.updateAndSettle!(task, settleWith.ledgerEntryOf(task));
      return settlement.updated;
    };
    // The webhook dispatcher writes delivery bookkeeping only (claims, attempt outcomes): a
    // write of its in between is no conflict, and this change is re-applied on top of it.
    for (let rebase = 0; !(await put(record)); rebase++) {
      const fresh = rebase < MAX_REBASES ? await store.get(prev.id) : undefined;
      if (!fresh || !onlyWebhookStateDiffers(prev, fresh)) return undefined;
      const { webhook, nextWebhookAt } = fresh;
      const onFresh = { ...next, webhook, nextWebhookAt, version: fresh.version + 1, updatedAt };
      record = recordChange(onFresh, fresh, now, newMessageId, this.formatBody);
    }
    if (record.status !== prev.status) {
      this.deps.metrics?.taskChanged(record.provider, prev.status, record.status);
    }
    if (isTerminal(record.status) && !isTerminal(prev.status)) {
      this.deps.pools.get(record.provider)?.release(record.credentialId, record.tenant);
      if (settlement?.updated) this.settledWith(record, settlement);
      else await this.settle(record);
    }
    if (record.nextPollAt !== null) this.deps.due?.polls.raise(record.nextPollAt);
    if (record.nextWebhookAt != null) this.deps.due?.webhooks.raise(record.nextWebhookAt);
    if (visible) this.deps.events.publish(record.id);
    return record;
  }

  /** A settlement that fails is retried by the reservation purge once its deadline passes. */
  private async settle(task: TaskRecord): Promise<void> {
    try {
      await this.deps.costs?.settle(task);
    } catch (err) {
      this.settleFailed(task, err);
    }
  }

  /** After a settlement made in the task's own write (`TaskStore.updateAndSettle`). */
  private settledWith(task: TaskRecord, outcome: UpdateAndSettle & { updated: true }): void {
    if ('settleError' in outcome) this.settleFailed(task, outcome.settleError);
    else this.deps.costs?.settled(task, outcome.settled);
  }

  private settleFailed(task: TaskRecord, err: unknown): void {
    this.deps.logger?.error({ err, taskId: task.id }, 'settling the cost of a task failed');
  }
}
