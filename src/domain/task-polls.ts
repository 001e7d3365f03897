import type { PollOutcome } from './metrics.js';
import {
  isPastDeadline,
  pollDelayMs,
  type PollingPolicy,
  type RandomSource,
} from './poll-schedule.js';
import type { Credential, PollCall, ProviderAdapter, UpstreamSnapshot } from './ports.js';
import { isTerminal, type TaskRecord } from './task-record.js';
import {
  afterFailedPoll,
  applySnapshot,
  failTask,
  pastDeadline,
  toTaskError,
  type DeadlineCancel,
  type PollPlan,
} from './task-transitions.js';
import type { TaskServiceDeps } from './task-service.js';
import type { TaskWriter } from './task-writer.js';

export interface TaskPollsDeps extends Pick<
  TaskServiceDeps,
  'models' | 'pools' | 'metrics' | 'copies' | 'pollBudget' | 'logger'
> {
  polling: PollingPolicy;
  writer: TaskWriter;
  now: () => number;
  random: RandomSource;
}

/**
 * The poll side of a task's life: one upstream poll of a claimed task (or its end at its
 * deadline), and when the next one is due. TaskService delegates its polls here.
 */
export class TaskPolls {
  private readonly now: () => number;
  private readonly random: RandomSource;

  constructor(private readonly deps: TaskPollsDeps) {
    this.now = deps.now;
    this.random = deps.random;
  }

  /** One upstream poll of a claimed task; transient failures reschedule with backoff. */
  async poll(task: TaskRecord): Promise<void> {
    const adapter = this.deps.models.adapter(task.provider);
    const credential = this.credentialOf(task);
    const call = credential && pollCallOf(task, credential);
    const now = this.now();
    // Polls are never scheduled past a deadline: this is the task's last visit.
    if (isPastDeadline(now, task.deadlineAt)) return this.endAtDeadline(task, adapter, call);
    if (!adapter || !call) {
      const message = !adapter
        ? `Provider ${task.provider} is no longer configured`
        : `Credential ${task.credentialId} of ${task.provider} is no longer configured`;
      this.deps.metrics?.pollDone(task.provider, 'skipped');
      const error = { code: 'no_credential_available', message };
      await this.deps.writer.write(failTask(task, error, this.now()), task);
      return;
    }
    // Its outputs are being copied here (a copy outlasted its hold): not polled meanwhile.
    if (this.deps.copies?.isCopying(task.id)) {
      await this.deps.writer.write({ ...task, nextPollAt: now + 5000 }, task);
      return;
    }
    // Over the credential's poll budget: back to the store with a later poll time, not polled.
    const wait =
      (await this.deps.pollBudget?.admit(task.provider, task.credentialId, task.id, now)) ?? 0;
    if (wait > 0) {
      await this.deps.writer.write({ ...task, nextPollAt: now + wait }, task);
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
      const at = { polledAt: now, failedAt: this.now() };
      next = afterFailedPoll(task, err, at, this.pollPlanOf(task));
      outcome = next.status === 'failed' ? 'failed' : 'retry';
      if (outcome === 'retry') {
        const log = { taskId: task.id, provider: task.provider, code: toTaskError(err).code };
        this.deps.logger.warn(log, 'poll failed, will retry');
      }
    }
    this.deps.metrics?.pollDone(task.provider, outcome);
    await this.deps.writer.write(next, task);
  }

  /** Cancels the task's job where its provider can, then ends the task (see `pastDeadline`). */
  private async endAtDeadline(
    task: TaskRecord,
    adapter: ProviderAdapter | undefined,
    call: PollCall | undefined,
  ): Promise<void> {
    let cancel: DeadlineCancel = { kind: 'unsupported' };
    if (adapter?.cancel && call) {
      try {
        cancel = { kind: 'answered', answer: await adapter.cancel(call) };
        this.deps.pools.get(task.provider)?.reportOutcome(task.credentialId, 'success', 'poll');
      } catch (err) {
        cancel = { kind: 'failed' };
        const log = { taskId: task.id, provider: task.provider, code: toTaskError(err).code };
        this.deps.logger.warn(log, 'cancel at the task deadline failed; the task is given up');
      }
    }
    await this.deps.writer.write(pastDeadline(task, cancel, this.now()), task);
  }

  /**
   * Hands back a claimed task without polling it (the poller is stopping): its poll is due
   * again now, so another instance takes it at once instead of after the lease.
   */
  async releaseClaim(claimed: TaskRecord): Promise<void> {
    if (isTerminal(claimed.status) || claimed.nextPollAt === null) return;
    await this.deps.writer.write({ ...claimed, nextPollAt: this.now() }, claimed);
  }

  /** The task after an upstream answer received at `now` (the upstream was reached). */
  answered(task: TaskRecord, snapshot: UpstreamSnapshot, now = this.now()): TaskRecord {
    const reached = { ...task, lastContactAt: now };
    const answeredAt = this.now();
    const pollAt = (hintMs?: number) => answeredAt + this.pollDelay(task, hintMs);
    return applySnapshot(reached, snapshot, answeredAt, pollAt);
  }

  /** How long after an answer (with the upstream's hint) the task is polled again. */
  pollDelay(task: TaskRecord, hintMs: number | undefined): number {
    const { policy, adapterIntervalMs, random } = this.pollPlanOf(task);
    return pollDelayMs(policy, { adapterIntervalMs, attempts: task.pollAttempts }, hintMs, random);
  }

  private pollPlanOf(task: TaskRecord): PollPlan {
    const adapter = this.deps.models.adapter(task.provider);
    const adapterIntervalMs = adapter?.pollIntervalMs?.(task.type);
    return { policy: this.deps.polling, adapterIntervalMs, random: this.random };
  }

  private credentialOf(task: TaskRecord): Credential | undefined {
    return this.deps.pools.get(task.provider)?.byId(task.credentialId);
  }
}

/** The adapter call that polls (or cancels) the task's upstream job; undefined before it has one. */
export function pollCallOf(task: TaskRecord, credential: Credential): PollCall | undefined {
  if (task.upstreamId === null) return undefined;
  return {
    operation: task.type,
    model: task.model.slice(task.provider.length + 1),
    credential,
    upstreamId: task.upstreamId,
    state: task.upstreamState,
  };
}
