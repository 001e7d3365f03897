import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { OPERATIONS, TASK_STATUSES } from '../../src/contracts/common.js';
import type { TaskRecord, WebhookDelivery } from '../../src/domain/task-record.js';
import type { ListQuery, TaskCount, TaskStore } from '../../src/domain/task-store.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { RedisTaskStore } from '../../src/store/redis-store.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import { REDIS_URL, deleteKeys, testKeyPrefix } from '../helpers/redis.js';
import { taskRecord } from './conformance.js';

/**
 * Model-based check of the stores' indexes: random sequences of inserts, compare-and-set
 * updates (some stale) and claims, applied to the memory store (the reference) and to
 * another store; after every step each query must answer the same. Catches an index or a
 * counter that drifts from the records after some sequence of writes.
 */

const prefix = testKeyPrefix('model');
const dir = mkdtempSync(join(tmpdir(), 'genway-store-model-'));
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deleteKeys(prefix);
});

/** The fields a write may change, drawn from small sets so that queries hit them. */
const fieldsArb = fc.record({
  tenant: fc.constantFrom('a', 'b'),
  status: fc.constantFrom(...TASK_STATUSES),
  type: fc.constantFrom(...OPERATIONS),
  provider: fc.constantFrom('p1', 'p2'),
  credentialId: fc.constantFrom('c1', 'c2'),
  upstreamId: fc.constantFrom(null, 'u1', 'u2'),
  nextPollAt: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
  deliveries: fc.array(
    fc.constantFrom<WebhookDelivery['status']>('pending', 'delivered', 'failed'),
    {
      maxLength: 3,
    },
  ),
  nextWebhookAt: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
  deleted: fc.boolean(),
});
type Fields = typeof fieldsArb extends fc.Arbitrary<infer T> ? T : never;

const apply = (base: TaskRecord, f: Fields): TaskRecord => ({
  ...base,
  tenant: f.tenant,
  status: f.status,
  type: f.type,
  provider: f.provider,
  credentialId: f.credentialId,
  upstreamId: f.upstreamId,
  nextPollAt: f.nextPollAt,
  // The dispatcher's contract: a task has a next attempt time exactly while a delivery is pending.
  nextWebhookAt: f.deliveries.includes('pending') ? (f.nextWebhookAt ?? 0) : null,
  deletedAt: f.deleted ? 1 : null,
  webhook:
    f.deliveries.length === 0
      ? null
      : {
          url: 'https://example.com/hook',
          events: ['task.succeeded'],
          deliveries: f.deliveries.map((status, i) => ({
            id: `msg_${i}`,
            event: 'task.succeeded',
            payload: {} as WebhookDelivery['payload'],
            status,
            attempts: 0,
            nextAttemptAt: null,
            lastStatus: null,
            lastError: null,
            deliveredAt: null,
          })),
        },
});

const stepArb = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), fields: fieldsArb }),
  fc.record({
    op: fc.constant('update' as const),
    pick: fc.nat(),
    stale: fc.boolean(),
    fields: fieldsArb,
  }),
  fc.record({
    op: fc.constantFrom('claimDue' as const, 'claimDueWebhooks' as const),
    now: fc.integer({ min: 0, max: 1500 }),
    lease: fc.integer({ min: 1, max: 500 }),
  }),
);
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

const queryArb = fc.record({
  tenant: fc.constantFrom('a', 'b'),
  status: fc.option(fc.constantFrom(...TASK_STATUSES), { nil: undefined }),
  types: fc.option(fc.subarray([...OPERATIONS]), { nil: undefined }),
  order: fc.option(fc.constantFrom('asc' as const, 'desc' as const), { nil: undefined }),
  limit: fc.integer({ min: 1, max: 5 }),
  cursorPick: fc.option(fc.nat(), { nil: undefined }),
});

type Query = typeof queryArb extends fc.Arbitrary<infer T> ? T : never;

const sortCounts = (rows: TaskCount[]) =>
  rows.map((r) => `${r.provider}/${r.status}=${r.count}`).sort();
const byId = (tasks: TaskRecord[]) => [...tasks].sort((a, b) => a.id.localeCompare(b.id));

/** Everything the store answers, for one query drawn from `q` (same for both stores). */
async function observe(store: TaskStore, ids: string[], q: Query) {
  const cursor =
    q.cursorPick === undefined || ids.length === 0 ? undefined : ids[q.cursorPick % ids.length];
  const list: ListQuery = {
    limit: q.limit,
    ...(q.status ? { status: q.status } : {}),
    ...(q.types ? { types: q.types } : {}),
    ...(q.order ? { order: q.order } : {}),
    ...(cursor ? { cursor } : {}),
  };
  return {
    list: await store.list(q.tenant, list),
    nextDueAt: await store.nextDueAt(),
    nextWebhookDueAt: await store.nextWebhookDueAt(),
    active: [
      ...(await store.countActiveByCredential('p1')),
      ...(await store.countActiveByCredential('p2')),
    ]
      .map(([c, n]) => `${c}=${n}`)
      .sort(),
    upstream: [
      (await store.findByUpstreamId('p1', 'u1'))?.id,
      (await store.findByUpstreamId('p2', 'u2'))?.id,
    ],
    counts: sortCounts(await store.countByStatus!()),
    pending: await store.countPendingWebhooks!(),
  };
}

async function run(steps: Step[], queries: Query[], other: TaskStore) {
  const reference = new MemoryTaskStore();
  const ids: string[] = [];
  try {
    for (const [i, step] of steps.entries()) {
      if (step.op === 'insert') {
        const task = apply(taskRecord(ids.length + 1), step.fields);
        ids.push(task.id);
        await reference.insert(task);
        await other.insert(task);
      } else if (step.op === 'update') {
        if (ids.length === 0) continue;
        const current = (await reference.get(ids[step.pick % ids.length]!))!;
        // A task never changes tenant (TaskStore.update).
        const write = {
          ...apply({ ...current, version: current.version + (step.stale ? 0 : 1) }, step.fields),
          tenant: current.tenant,
        };
        expect(await other.update(write)).toBe(await reference.update(write));
      } else {
        const expected = await reference[step.op](step.now, 1000, step.lease);
        const claimed = await other[step.op](step.now, 1000, step.lease);
        expect(byId(claimed)).toEqual(byId(expected));
      }
      const q = queries[i % queries.length]!;
      expect(await observe(other, ids, q)).toEqual(await observe(reference, ids, q));
    }
    for (const id of ids) expect(await other.get(id)).toEqual(await reference.get(id));
  } finally {
    await other.close();
  }
}

let runs = 0;
const stores: [string, () => TaskStore][] = [
  ['sqlite', () => new SqliteTaskStore(join(dir, `m${++runs}.db`))],
  ['redis', () => new RedisTaskStore(REDIS_URL, { keyPrefix: `${prefix}${++runs}:` })],
];

describe.each(stores)(
  '%s store against the memory store (random write sequences)',
  (_name, open) => {
    it('answers every query the same after every step', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(stepArb, { minLength: 1, maxLength: 40 }),
          fc.array(queryArb, { minLength: 1, maxLength: 5 }),
          (steps, queries) => run(steps, queries, open()),
        ),
        { numRuns: 40 },
      );
    });
  },
);
