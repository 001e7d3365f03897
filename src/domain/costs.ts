import type { Operation } from '../contracts/common.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { ModelNames } from './access.js';
import type { AdminStore, LedgerEntry, TenantBudget } from './admin-store.js';
import { periodKey } from './budget-period.js';
import type { Logger } from './logger.js';
import type { GenerationInput } from './ports.js';
import {
  chargeOf,
  estimateCost,
  fromMicros,
  priceFor,
  toMicros,
  type PriceEntry,
} from './pricing.js';
import { isTerminal, type TaskRecord } from './task-record.js';

/** How long a reservation is held for a task that never ends, before it is released. */
export const RESERVATION_HOLD_MS = 24 * 3_600_000;
/** Expired reservations handled per purge round. */
const PURGE_BATCH = 200;

export interface CostDeps {
  prices: readonly PriceEntry[];
  store: AdminStore;
  /** The tenant's budget (admin API, else the configuration file); null: none. */
  budgetOf: (tenant: string) => Promise<TenantBudget | null>;
  /** The task as stored now (the purge settles a finished task whose settlement was lost). */
  getTask: (id: string) => Promise<TaskRecord | undefined>;
  now: () => number;
  logger: Logger;
  /**
   * Told of every charge settled here (metrics: charged USD by provider and model). `model` is
   * the matching price entry's model (operator-chosen: an exact id or `provider/*`).
   */
  onCharged?: (provider: string, model: string, usd: number) => void;
}

const usd = (micros: number) => `${fromMicros(micros).toFixed(2)} USD`;

/**
 * Money around a task: its estimate at create, the reservation of that estimate against the
 * tenant's budget before any upstream call, its charge at a terminal status, and the
 * settlement (ledger entry, reservation replaced by the charge) right after that write, or in
 * its commit where the store can (`TaskStore.updateAndSettle`).
 */
export class TaskCosts {
  constructor(private readonly deps: CostDeps) {}

  /** The estimated cost (USD) of a create, from its request; null without a price. */
  estimate(model: ModelNames, operation: Operation, input: GenerationInput): number | null {
    return estimateCost(priceFor(this.deps.prices, model, operation), input);
  }

  /**
   * Holds `estimated` against the tenant's budget for the current period, atomically over
   * every request and instance: 402 `budget_exceeded` (naming the budget and what is left)
   * when it does not fit. A tenant without a budget reserves nothing.
   */
  async reserve(tenant: string, taskId: string, estimated: number | null): Promise<void> {
    const budget = await this.deps.budgetOf(tenant);
    if (!budget) return;
    const now = this.deps.now();
    const limitMicros = toMicros(budget.limitUsd);
    const amountMicros = toMicros(estimated ?? 0);
    const outcome = await this.deps.store.reserveBudget({
      taskId,
      tenant,
      period: periodKey(budget.period, now),
      limitMicros,
      amountMicros,
      expiresAt: now + RESERVATION_HOLD_MS,
    });
    if (outcome.reserved) return;
    const left = Math.max(0, limitMicros - outcome.usedMicros);
    const per = budget.period === 'total' ? 'in total' : `per ${budget.period}`;
    throw new GatewayError(
      'budget_exceeded',
      `The budget of tenant ${tenant} is ${usd(limitMicros)} ${per}; ${usd(left)} is left and this task is estimated at ${usd(amountMicros)}`,
    );
  }

  /** Takes back the reservation of a create that stored no task. */
  async release(taskId: string): Promise<void> {
    await this.deps.store.releaseReservation(taskId);
  }

  /** The task at its terminal status, with its charge. */
  charge(task: TaskRecord): TaskRecord {
    if (!isTerminal(task.status) || task.cost?.charged != null) return task;
    const entry = priceFor(this.deps.prices, namesOf(task), task.type);
    const charged = chargeOf(entry, {
      status: task.status as 'succeeded' | 'failed' | 'canceled',
      upstreamId: task.upstreamId,
      errorCode: task.error?.code ?? null,
      outputCount: task.outputs.length,
      usage: task.usage,
      estimated: task.cost?.estimated ?? null,
    });
    return { ...task, cost: { estimated: task.cost?.estimated ?? null, charged } };
  }

  /** Writes the ledger entry of a finished task and settles its reservation (once per task). */
  async settle(task: TaskRecord): Promise<void> {
    this.settled(task, await this.deps.store.settle(this.ledgerEntryOf(task)));
  }

  /** The ledger entry of a finished task (charged), as `settle` writes it. */
  ledgerEntryOf(task: TaskRecord): LedgerEntry {
    return {
      taskId: task.id,
      tenant: task.tenant,
      keyId: task.keyId ?? null,
      provider: task.provider,
      model: task.model,
      operation: task.type,
      status: task.status,
      chargedMicros: toMicros(task.cost?.charged ?? 0),
      at: this.deps.now(),
    };
  }

  /** After the ledger entry of `task` was written (`settled`: now, not before): the metrics. */
  settled(task: TaskRecord, settled: boolean): void {
    const charged = task.cost?.charged ?? 0;
    if (!settled || charged <= 0 || !this.deps.onCharged) return;
    const entry = priceFor(this.deps.prices, namesOf(task), task.type);
    if (entry) this.deps.onCharged(task.provider, entry.model, charged);
  }

  /**
   * Reservations past their deadline: a finished task whose settlement was lost is settled
   * now; one that never ended has its reservation released.
   */
  async purge(): Promise<number> {
    const expired = await this.deps.store.expiredReservations(this.deps.now(), PURGE_BATCH);
    for (const reservation of expired) {
      const task = await this.deps.getTask(reservation.taskId);
      if (task && isTerminal(task.status)) await this.settle(this.charge(task));
      else await this.deps.store.releaseReservation(reservation.taskId);
    }
    if (expired.length > 0) {
      this.deps.logger.warn({ count: expired.length }, 'budget reservations past their deadline');
    }
    return expired.length;
  }
}

const namesOf = (task: TaskRecord): ModelNames => ({
  requested: task.model,
  publicId: task.model,
  provider: task.provider,
});
