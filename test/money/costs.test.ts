import { describe, expect, it } from 'vitest';
import { RESERVATION_HOLD_MS, TaskCosts } from '../../src/domain/costs.js';
import type { TaskRecord } from '../../src/domain/task-record.js';
import { MemoryAdminStore } from '../../src/store/admin/memory-admin.js';
import { taskRecord } from '../store/conformance.js';

const silent = { error() {}, warn() {}, info() {}, debug() {} };

function setup(tasks: Map<string, TaskRecord>) {
  const store = new MemoryAdminStore();
  let now = Date.parse('2026-12-07T10:00:00Z');
  const charged: [string, string, number][] = [];
  const costs = new TaskCosts({
    prices: [{ model: 'modelslab/*', unit: 'per_task', usd: 0.25 }],
    store,
    budgetOf: async () => ({ limitUsd: 0.5, period: 'month' }),
    getTask: async (id) => tasks.get(id),
    now: () => now,
    logger: silent,
    onCharged: (p, m, usd) => charged.push([p, m, usd]),
  });
  return { store, costs, charged, advance: (ms: number) => (now += ms) };
}

describe('TaskCosts: reservations past their deadline', () => {
  it('releases the reservation of a task that never ended, and settles one that did', async () => {
    const running = taskRecord(1, { status: 'running' });
    const finished = taskRecord(2, {
      status: 'succeeded',
      upstreamId: 'up-2',
      cost: { estimated: 0.25, charged: null },
    });
    const tasks = new Map([
      [running.id, running],
      [finished.id, finished],
    ]);
    const { store, costs, charged, advance } = setup(tasks);
    await costs.reserve('tenant_a', running.id, 0.25);
    await costs.reserve('tenant_a', finished.id, 0.25);
    await expect(costs.reserve('tenant_a', 'task_x', 0.25)).rejects.toMatchObject({
      code: 'budget_exceeded',
      status: 402,
    });
    expect(await costs.purge()).toBe(0);
    advance(RESERVATION_HOLD_MS);
    expect(await costs.purge()).toBe(2);
    expect(await store.expiredReservations(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    // The finished task was charged and entered in the ledger; the running one freed its share.
    const ledger = await store.ledger({ from: 0, to: Number.MAX_SAFE_INTEGER });
    expect(ledger.map((e) => [e.taskId, e.chargedMicros])).toEqual([[finished.id, 250_000]]);
    expect(charged).toEqual([['modelslab', 'modelslab/*', 0.25]]);
    await costs.reserve('tenant_a', 'task_y', 0.25);
    await expect(costs.reserve('tenant_a', 'task_z', 0.25)).rejects.toMatchObject({
      code: 'budget_exceeded',
    });
  });

  it('charges 0 for a create refused before start, the estimate for an unknown outcome', () => {
    const { costs } = setup(new Map());
    const refused = taskRecord(3, {
      status: 'failed',
      error: { code: 'upstream_rejected', message: 'no' },
      cost: { estimated: 0.25, charged: null },
    });
    expect(costs.charge(refused).cost).toEqual({ estimated: 0.25, charged: 0 });
    const unknown = { ...refused, error: { code: 'upstream_outcome_unknown', message: '?' } };
    expect(costs.charge(unknown).cost).toEqual({ estimated: 0.25, charged: 0.25 });
    const running = taskRecord(4, { status: 'running' });
    expect(costs.charge(running)).toBe(running);
  });
});
