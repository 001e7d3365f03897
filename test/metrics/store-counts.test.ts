import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskStatus } from '../../src/contracts/common.js';
import type { TaskRecord, WebhookDelivery } from '../../src/domain/task-record.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import type { TaskCount, TaskStore } from '../../src/domain/task-store.js';

/** The scrape-time queries behind genway_tasks and genway_webhook_backlog, on every store. */
let n = 0;
const record = (
  provider: string,
  status: TaskStatus,
  deliveries: WebhookDelivery['status'][] = [],
): TaskRecord => {
  n++;
  const pending = deliveries.includes('pending');
  return {
    id: `task_01JD7Z6Q4N8K2V3W5X6Y7Z${String(n).padStart(4, '0')}`,
    tenant: 'a',
    type: 'text-to-image',
    model: `${provider}/m`,
    provider,
    status,
    progress: null,
    outputs: [],
    error: null,
    upstreamId: null,
    upstreamStatus: null,
    metadata: {},
    createdAt: n,
    updatedAt: n,
    completedAt: null,
    credentialId: `${provider}-1`,
    upstreamState: {},
    nextPollAt: null,
    pollAttempts: 0,
    lastContactAt: n,
    version: 1,
    changeSeq: 0,
    changes: [],
    webhook:
      deliveries.length === 0
        ? null
        : {
            url: 'https://example.com/hook',
            events: ['task.succeeded'],
            deliveries: deliveries.map((s, i) => ({
              id: `msg_${n}_${i}`,
              event: 'task.succeeded',
              payload: {},
              status: s,
              attempts: s === 'pending' ? 0 : 1,
              nextAttemptAt: s === 'pending' ? n : null,
              lastStatus: null,
              lastError: null,
              deliveredAt: s === 'delivered' ? n : null,
            })),
          },
    nextWebhookAt: pending ? n : null,
  } as TaskRecord;
};

const dir = mkdtempSync(join(tmpdir(), 'genway-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stores: [string, () => TaskStore][] = [
  ['memory', () => new MemoryTaskStore()],
  ['sqlite', () => new SqliteTaskStore(join(dir, `counts-${Date.now()}.db`))],
];

const sorted = (rows: TaskCount[]) =>
  [...rows].sort((a, b) => `${a.provider}${a.status}`.localeCompare(`${b.provider}${b.status}`));

describe.each(stores)('%s store counts for /metrics', (_name, make) => {
  it('counts tasks per provider and status, following updates', async () => {
    const store = make();
    try {
      expect(await store.countByStatus!()).toEqual([]);
      const running = record('modelslab', 'running');
      for (const r of [
        running,
        record('modelslab', 'running'),
        record('modelslab', 'succeeded'),
        record('replicate', 'failed'),
        record('replicate', 'queued'),
      ]) {
        await store.insert(r);
      }
      expect(await store.update({ ...running, status: 'succeeded', version: 2 })).toBe(true);
      expect(sorted(await store.countByStatus!())).toEqual([
        { provider: 'modelslab', status: 'running', count: 1 },
        { provider: 'modelslab', status: 'succeeded', count: 2 },
        { provider: 'replicate', status: 'failed', count: 1 },
        { provider: 'replicate', status: 'queued', count: 1 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('counts pending webhook deliveries over all tasks', async () => {
    const store = make();
    try {
      expect(await store.countPendingWebhooks!()).toBe(0);
      const twoPending = record('modelslab', 'succeeded', ['delivered', 'pending', 'pending']);
      await store.insert(twoPending);
      await store.insert(record('modelslab', 'failed', ['pending']));
      await store.insert(record('modelslab', 'succeeded', ['delivered', 'failed']));
      await store.insert(record('modelslab', 'running'));
      expect(await store.countPendingWebhooks!()).toBe(3);
      // Both delivered: nothing pending on that task any more.
      const delivered = {
        ...twoPending,
        version: 2,
        nextWebhookAt: null,
        webhook: {
          ...twoPending.webhook!,
          deliveries: twoPending.webhook!.deliveries.map((d) => ({
            ...d,
            status: 'delivered' as const,
          })),
        },
      };
      expect(await store.update(delivered)).toBe(true);
      expect(await store.countPendingWebhooks!()).toBe(1);
    } finally {
      await store.close();
    }
  });
});
