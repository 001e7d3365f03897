import { afterEach, describe, expect, it } from 'vitest';
import type { Operation, TaskStatus } from '../../src/contracts/common.js';
import { IN_PROGRESS_LEASE_MS, IdempotencyKeys } from '../../src/domain/idempotency.js';
import type { TaskRecord, WebhookDelivery } from '../../src/domain/task-record.js';
import type { IdempotencyRecord, TaskCount, TaskStore } from '../../src/domain/task-store.js';
import { describeAdminStoreConformance } from './admin-conformance.js';
import { describeSharedSlotsConformance } from './slots-conformance.js';

/**
 * Opens the store of `space`: an empty one for a new space, the same data again for a space
 * already opened (a second gateway process on one SQLite file or one Redis prefix).
 */
export type OpenStore = (space: string) => TaskStore | Promise<TaskStore>;

/** Ids sort by creation time (ULID-like): a later `n` is a newer task. */
const idOf = (n: number) => `task_01JD7Z6Q4N8K2V3W5X6Y7Z${String(n).padStart(4, '0')}`;

export function taskRecord(n: number, fields: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: idOf(n),
    tenant: 'tenant_a',
    type: 'text-to-video',
    model: 'modelslab/m',
    provider: 'modelslab',
    status: 'running',
    progress: 0.25,
    outputs: [{ url: 'https://cdn.example/o.mp4', contentType: 'video/mp4', expiresAt: null }],
    error: null,
    upstreamId: null,
    upstreamStatus: 'processing',
    metadata: { k: 'v', unicode: 'é ✓' },
    createdAt: 1_700_000_000_000 + n,
    updatedAt: 1_700_000_000_000 + n,
    completedAt: null,
    credentialId: 'modelslab-1',
    upstreamState: { fetchUrl: 'https://x/fetch', nested: { list: [], empty: {} } },
    nextPollAt: null,
    pollAttempts: 0,
    lastContactAt: 1_700_000_000_000 + n,
    version: 1,
    changeSeq: 0,
    changes: [],
    webhook: null,
    nextWebhookAt: null,
    ...fields,
  };
}

const delivery = (id: string, status: WebhookDelivery['status']): WebhookDelivery => ({
  id,
  event: 'task.succeeded',
  payload: {} as WebhookDelivery['payload'],
  status,
  attempts: status === 'pending' ? 0 : 1,
  nextAttemptAt: status === 'pending' ? 5 : null,
  lastStatus: null,
  lastError: null,
  deliveredAt: status === 'delivered' ? 5 : null,
});

const withDeliveries = (n: number, statuses: WebhookDelivery['status'][], fields = {}) =>
  taskRecord(n, {
    webhook: {
      url: 'https://example.com/hook',
      events: ['task.succeeded'],
      deliveries: statuses.map((s, i) => delivery(`msg_${n}_${i}`, s)),
    },
    nextWebhookAt: statuses.includes('pending') ? 5 : null,
    ...fields,
  });

/** The record written back with the next version (what every domain write does). */
const next = (t: TaskRecord, fields: Partial<TaskRecord> = {}): TaskRecord => ({
  ...t,
  ...fields,
  version: t.version + 1,
});

const idemScope = { tenant: 'tenant_a', surface: 'normalized', key: 'k1' };
const idemRecord = (fields: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({
  ...idemScope,
  owner: 'owner-1',
  fingerprint: 'fp',
  state: 'in_progress',
  taskId: null,
  error: null,
  createdAt: 1000,
  lockedUntil: 1000 + IN_PROGRESS_LEASE_MS,
  expiresAt: 1000 + 86_400_000,
  ...fields,
});

const sortedCounts = (rows: TaskCount[]) =>
  [...rows].sort((a, b) => `${a.provider}${a.status}`.localeCompare(`${b.provider}${b.status}`));

/**
 * The TaskStore contract, one set of assertions for every store (memory, SQLite, Redis), so
 * that a store feature cannot drift between them.
 */
export function describeTaskStoreConformance(kind: string, open: OpenStore): void {
  describe(`${kind} store conformance`, () => {
    const opened: TaskStore[] = [];
    let spaces = 0;
    /** A fresh, empty store; `again()` opens a second handle on its data. */
    const fresh = async () => {
      const space = `s${++spaces}`;
      const store = await open(space);
      opened.push(store);
      const again = async () => {
        const other = await open(space);
        opened.push(other);
        return other;
      };
      return { store, again };
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    describe('tasks', () => {
      it('stores a record and gives back an equal copy; an unknown id is undefined', async () => {
        const { store } = await fresh();
        const task = withDeliveries(1, ['pending'], { upstreamId: 'up-1', nextPollAt: 99 });
        await store.insert(task);
        const read = await store.get(task.id);
        expect(read).toEqual(task);
        read!.status = 'failed';
        read!.outputs.pop();
        expect(await store.get(task.id)).toEqual(task);
        expect(await store.get(idOf(999))).toBeUndefined();
      });

      it('a read view (where the store has one) is the record without history or message bodies, following writes', async () => {
        const { store, again } = await fresh();
        const changes = [{ seq: 1, at: 5, status: 'running' as const, progress: 0.25 }];
        const task = withDeliveries(1, ['pending', 'delivered'], { changeSeq: 1, changes });
        task.webhook!.deliveries[0]!.payload = { id: task.id, object: 'task' } as never;
        await store.insert(task);
        const other = await again();
        if (!store.readView || !other.readView) return;
        const { changes: _changes, webhook, ...rest } = task;
        const bodiless = webhook!.deliveries.map(({ payload: _payload, ...d }) => d);
        expect(await other.readView(task.id)).toMatchObject({
          ...rest,
          webhook: { ...webhook, deliveries: bodiless },
        });
        // A handle's views follow its own writes and claims (the writes of one gateway).
        expect((await store.readView(task.id))?.progress).toBe(0.25);
        const written = next(task, { progress: 0.5, nextPollAt: 10 });
        expect(await store.update(written)).toBe(true);
        expect((await store.readView(task.id))?.progress).toBe(0.5);
        expect((await store.readView(task.id))?.version).toBe(written.version);
        await store.claimDue(20, 10, 1000);
        expect((await store.readView(task.id))?.version).toBe(written.version + 1);
        // The whole record is still there for `get`.
        expect(await store.get(task.id)).toEqual({
          ...written,
          nextPollAt: 1020,
          version: written.version + 1,
        });
        expect(await store.readView(idOf(999))).toBeUndefined();
      });

      it("keeps a task's deadline through inserts and updates", async () => {
        const { store, again } = await fresh();
        const task = taskRecord(1, { deadlineAt: 123_456, nextPollAt: 100 });
        await store.insert(task);
        expect((await (await again()).get(task.id))?.deadlineAt).toBe(123_456);
        await store.update({ ...task, deadlineAt: null, version: task.version + 1 });
        expect((await store.get(task.id))?.deadlineAt).toBeNull();
      });

      it('refuses a second insert of the same id', async () => {
        const { store } = await fresh();
        await store.insert(taskRecord(1));
        await expect(store.insert(taskRecord(1, { tenant: 'other' }))).rejects.toThrow();
        expect((await store.get(idOf(1)))?.tenant).toBe('tenant_a');
      });

      it('update is compare-and-set on the version: a stale write changes nothing', async () => {
        const { store } = await fresh();
        const task = taskRecord(1);
        await store.insert(task);
        const first = next(task, { status: 'succeeded', progress: 1 });
        expect(await store.update(first)).toBe(true);
        // Another writer based on the same version 1 lost the race.
        expect(await store.update(next(task, { status: 'failed' }))).toBe(false);
        // A version that skips one is refused too.
        expect(await store.update(next(next(first), { status: 'failed' }))).toBe(false);
        expect(await store.get(task.id)).toEqual(first);
        expect(await store.update(next(taskRecord(2)))).toBe(false);
        expect(await store.get(idOf(2))).toBeUndefined();
      });
    });

    describe('listing', () => {
      const seed = async (store: TaskStore) => {
        const rows: [number, Operation, TaskStatus, string][] = [
          [10, 'text-to-video', 'succeeded', 'tenant_a'],
          [11, 'text-to-image', 'running', 'tenant_a'],
          [12, 'image-to-video', 'succeeded', 'tenant_a'],
          [13, 'text-to-video', 'queued', 'tenant_a'],
          [14, 'text-to-video', 'succeeded', 'tenant_b'],
        ];
        for (const [n, type, status, tenant] of rows) {
          await store.insert(taskRecord(n, { type, status, tenant }));
        }
      };
      const ids = async (
        store: TaskStore,
        q: Parameters<TaskStore['list']>[1],
        tenant = 'tenant_a',
      ) => (await store.list(tenant, q)).map((t) => Number(t.id.slice(-4)));

      it('lists a tenant newest first, or oldest first, with a limit and a cursor', async () => {
        const { store } = await fresh();
        await seed(store);
        expect(await ids(store, { limit: 10 })).toEqual([13, 12, 11, 10]);
        expect(await ids(store, { limit: 10, order: 'desc' })).toEqual([13, 12, 11, 10]);
        expect(await ids(store, { limit: 10, order: 'asc' })).toEqual([10, 11, 12, 13]);
        expect(await ids(store, { limit: 2 })).toEqual([13, 12]);
        expect(await ids(store, { limit: 2, cursor: idOf(12) })).toEqual([11, 10]);
        expect(await ids(store, { limit: 2, cursor: idOf(11), order: 'asc' })).toEqual([12, 13]);
        expect(await ids(store, { limit: 2, cursor: idOf(13), order: 'asc' })).toEqual([]);
        expect(await ids(store, { limit: 2, cursor: idOf(10) })).toEqual([]);
        // Other tenants see only their own tasks.
        expect(await ids(store, { limit: 10 }, 'tenant_b')).toEqual([14]);
        expect(await ids(store, { limit: 10 }, 'tenant_c')).toEqual([]);
        // Whole records come back.
        expect((await store.list('tenant_b', { limit: 1 }))[0]).toEqual(
          taskRecord(14, { status: 'succeeded', tenant: 'tenant_b' }),
        );
      });

      it('filters by status (following updates) and by operation', async () => {
        const { store } = await fresh();
        await seed(store);
        expect(await ids(store, { limit: 10, status: 'succeeded' })).toEqual([12, 10]);
        expect(await ids(store, { limit: 1, status: 'succeeded', cursor: idOf(12) })).toEqual([10]);
        expect(await ids(store, { limit: 10, status: 'canceled' })).toEqual([]);
        const videos = ['text-to-video', 'image-to-video'] as const;
        expect(await ids(store, { limit: 10, types: videos })).toEqual([13, 12, 10]);
        expect(await ids(store, { limit: 10, types: videos, order: 'asc' })).toEqual([10, 12, 13]);
        expect(
          await ids(store, { limit: 1, types: videos, order: 'asc', cursor: idOf(10) }),
        ).toEqual([12]);
        expect(await ids(store, { limit: 10, types: ['text-to-image'] })).toEqual([11]);
        expect(await ids(store, { limit: 10, types: [] })).toEqual([]);
        expect(
          await ids(store, { limit: 10, types: ['text-to-video'], status: 'succeeded' }),
        ).toEqual([10]);

        const running = (await store.get(idOf(11)))!;
        expect(await store.update(next(running, { status: 'succeeded' }))).toBe(true);
        expect(await ids(store, { limit: 10, status: 'succeeded' })).toEqual([12, 11, 10]);
        expect(await ids(store, { limit: 10, status: 'running' })).toEqual([]);
      });

      it('never lists a deleted task, which stays readable for the operator', async () => {
        const { store } = await fresh();
        await seed(store);
        const victim = (await store.get(idOf(12)))!;
        expect(await store.update(next(victim, { deletedAt: 7 }))).toBe(true);
        expect(await ids(store, { limit: 10 })).toEqual([13, 11, 10]);
        expect(await ids(store, { limit: 10, status: 'succeeded' })).toEqual([10]);
        expect(await ids(store, { limit: 10, types: ['image-to-video'] })).toEqual([]);
        expect((await store.get(victim.id))?.deletedAt).toBe(7);
      });
    });

    describe('due-time claims', () => {
      it('claims due polls earliest first, pushing each one a lease ahead', async () => {
        const { store } = await fresh();
        await store.insert(taskRecord(1, { nextPollAt: 300 }));
        await store.insert(taskRecord(2, { nextPollAt: 100 }));
        await store.insert(taskRecord(3, { nextPollAt: 200 }));
        await store.insert(taskRecord(4, { nextPollAt: 1000 }));
        await store.insert(taskRecord(5, { nextPollAt: null, status: 'succeeded' }));

        const claimed = await store.claimDue(500, 2, 10_000);
        expect(claimed.map((t) => t.id)).toEqual([idOf(2), idOf(3)]);
        expect(claimed.map((t) => [t.nextPollAt, t.version])).toEqual([
          [10_500, 2],
          [10_500, 2],
        ]);
        expect(claimed[0]).toEqual(taskRecord(2, { nextPollAt: 10_500, version: 2 }));
        expect(await store.get(idOf(2))).toEqual(claimed[0]);
        // Claimed ones are not due again until their lease ends; the rest are.
        expect((await store.claimDue(600, 10, 10_000)).map((t) => t.id)).toEqual([idOf(1)]);
        expect(await store.claimDue(700, 10, 10_000)).toEqual([]);
        const later = (await store.claimDue(10_500, 10, 10_000)).map((t) => t.id);
        // 2 and 3 share their lease end: their order among themselves is open.
        expect([later[0], later.slice(1).sort()]).toEqual([idOf(4), [idOf(2), idOf(3)]]);
        expect(await store.claimDue(10_500, 0, 10_000)).toEqual([]);
      });

      it('the claim bumps the version: a writer holding the older copy is fenced off', async () => {
        const { store } = await fresh();
        const task = taskRecord(1, { nextPollAt: 100 });
        await store.insert(task);
        const [claimed] = await store.claimDue(100, 1, 1000);
        expect(await store.update(next(task, { status: 'failed' }))).toBe(false);
        const done = next(claimed!, { status: 'succeeded', nextPollAt: null });
        expect(await store.update(done)).toBe(true);
        expect(await store.claimDue(1_000_000, 10, 1000)).toEqual([]);
        expect(await store.nextDueAt()).toBeNull();
      });

      it('two claimers at once never get the same task', async () => {
        const { store, again } = await fresh();
        const other = await again();
        for (let n = 1; n <= 30; n++) await store.insert(taskRecord(n, { nextPollAt: n }));
        const rounds = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).claimDue(100, 3, 60_000)),
        );
        const ids = rounds.flat().map((t) => t.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toHaveLength(30);
        expect(await other.claimDue(100, 10, 60_000)).toEqual([]);
      });

      it('nextDueAt is the earliest pending poll and follows writes', async () => {
        const { store } = await fresh();
        expect(await store.nextDueAt()).toBeNull();
        await store.insert(taskRecord(1, { nextPollAt: 500 }));
        await store.insert(taskRecord(2, { nextPollAt: 300 }));
        await store.insert(taskRecord(3, { nextPollAt: null }));
        expect(await store.nextDueAt()).toBe(300);
        const t2 = (await store.get(idOf(2)))!;
        expect(await store.update(next(t2, { nextPollAt: null, status: 'succeeded' }))).toBe(true);
        expect(await store.nextDueAt()).toBe(500);
        await store.claimDue(500, 10, 100);
        expect(await store.nextDueAt()).toBe(600);
      });

      it('claims due webhook attempts the same way, on their own schedule', async () => {
        const { store, again } = await fresh();
        expect(await store.nextWebhookDueAt()).toBeNull();
        await store.insert(withDeliveries(1, ['pending'], { nextWebhookAt: 400, nextPollAt: 50 }));
        await store.insert(withDeliveries(2, ['pending'], { nextWebhookAt: 200 }));
        await store.insert(withDeliveries(3, ['delivered'], { nextWebhookAt: null }));
        expect(await store.nextWebhookDueAt()).toBe(200);

        const claimed = await store.claimDueWebhooks(400, 1, 5000);
        expect(claimed.map((t) => [t.id, t.nextWebhookAt, t.version])).toEqual([
          [idOf(2), 5400, 2],
        ]);
        expect(await store.nextWebhookDueAt()).toBe(400);
        // A poll claim leaves webhook times alone, and the other way round.
        const [polled] = await store.claimDue(400, 10, 100);
        expect([polled?.id, polled?.nextWebhookAt, polled?.nextPollAt]).toEqual([
          idOf(1),
          400,
          500,
        ]);
        const other = await again();
        const all = await Promise.all([
          store.claimDueWebhooks(400, 5, 5000),
          other.claimDueWebhooks(400, 5, 5000),
        ]);
        expect(all.flat().map((t) => t.id)).toEqual([idOf(1)]);
        expect(await store.claimDueWebhooks(5399, 5, 5000)).toEqual([]);
        const both = await store.claimDueWebhooks(5400, 5, 5000);
        expect(both.map((t) => t.id).sort()).toEqual([idOf(1), idOf(2)]);
        const t2 = (await store.get(idOf(2)))!;
        expect(await store.update(next(t2, { nextWebhookAt: null }))).toBe(true);
        expect(await store.nextWebhookDueAt()).toBe(10_400);
      });
    });

    describe('lookups and counts', () => {
      it('counts queued and running tasks per credential of a provider', async () => {
        const { store } = await fresh();
        expect(await store.countActiveByCredential('modelslab')).toEqual(new Map());
        await store.insert(taskRecord(1, { status: 'queued', credentialId: 'c1' }));
        await store.insert(taskRecord(2, { status: 'running', credentialId: 'c1' }));
        await store.insert(taskRecord(3, { status: 'running', credentialId: 'c2' }));
        await store.insert(taskRecord(4, { status: 'succeeded', credentialId: 'c2' }));
        await store.insert(taskRecord(5, { status: 'failed', credentialId: 'c3' }));
        await store.insert(
          taskRecord(6, { status: 'running', credentialId: 'r1', provider: 'replicate' }),
        );
        expect(await store.countActiveByCredential('modelslab')).toEqual(
          new Map([
            ['c1', 2],
            ['c2', 1],
          ]),
        );
        expect(await store.countActiveByCredential('replicate')).toEqual(new Map([['r1', 1]]));
        const t3 = (await store.get(idOf(3)))!;
        expect(await store.update(next(t3, { status: 'canceled' }))).toBe(true);
        const t1 = (await store.get(idOf(1)))!;
        expect(await store.update(next(t1, { status: 'running' }))).toBe(true);
        expect(await store.countActiveByCredential('modelslab')).toEqual(new Map([['c1', 2]]));
      });

      it('a task moved to another credential and provider (a failover) is counted there', async () => {
        const { store, again } = await fresh();
        const task = taskRecord(1, { status: 'queued', credentialId: 'c1' });
        await store.insert(task);
        const moved = next(task, {
          provider: 'replicate',
          credentialId: 'r1',
          model: 'replicate/m',
        });
        expect(await store.update(moved)).toBe(true);
        const other = await again();
        expect(await other.countActiveByCredential('modelslab')).toEqual(new Map());
        expect(await other.countActiveByCredential('replicate')).toEqual(new Map([['r1', 1]]));
        expect(await other.countByStatus!()).toEqual([
          { provider: 'replicate', status: 'queued', count: 1 },
        ]);
        expect(await other.get(task.id)).toEqual(moved);
      });

      it('finds a task by its upstream job, the newest when several, deleted ones too', async () => {
        const { store } = await fresh();
        await store.insert(taskRecord(1, { provider: 'pixverse', upstreamId: '312345678901' }));
        await store.insert(taskRecord(2, { provider: 'replicate', upstreamId: '312345678901' }));
        await store.insert(taskRecord(3, { provider: 'pixverse', upstreamId: null }));
        const find = async (provider: string, upstreamId: string) =>
          (await store.findByUpstreamId(provider, upstreamId))?.id;
        expect(await find('pixverse', '312345678901')).toBe(idOf(1));
        expect(await find('replicate', '312345678901')).toBe(idOf(2));
        expect(await find('haiper', '312345678901')).toBeUndefined();
        expect(await find('pixverse', '999')).toBeUndefined();

        // The id the create's answer brought in later is found too (an update, not the insert).
        const t3 = (await store.get(idOf(3)))!;
        expect(await store.update(next(t3, { upstreamId: '312345678902' }))).toBe(true);
        expect(await find('pixverse', '312345678902')).toBe(idOf(3));
        await store.insert(taskRecord(4, { provider: 'pixverse', upstreamId: '312345678901' }));
        expect(await find('pixverse', '312345678901')).toBe(idOf(4));
        const t4 = (await store.get(idOf(4)))!;
        expect(await store.update(next(t4, { deletedAt: 9 }))).toBe(true);
        expect(await store.findByUpstreamId('pixverse', '312345678901')).toEqual(
          next(t4, { deletedAt: 9 }),
        );
      });

      it('counts tasks per provider and status, deleted ones included, following updates', async () => {
        const { store } = await fresh();
        expect(await store.countByStatus!()).toEqual([]);
        const running = taskRecord(1, { status: 'running' });
        await store.insert(running);
        await store.insert(taskRecord(2, { status: 'running' }));
        await store.insert(taskRecord(3, { status: 'succeeded', deletedAt: 5 }));
        await store.insert(taskRecord(4, { status: 'failed', provider: 'replicate' }));
        await store.insert(taskRecord(5, { status: 'queued', provider: 'replicate' }));
        expect(await store.update(next(running, { status: 'succeeded' }))).toBe(true);
        expect(sortedCounts(await store.countByStatus!())).toEqual([
          { provider: 'modelslab', status: 'running', count: 1 },
          { provider: 'modelslab', status: 'succeeded', count: 2 },
          { provider: 'replicate', status: 'failed', count: 1 },
          { provider: 'replicate', status: 'queued', count: 1 },
        ]);
      });

      it('counts pending webhook deliveries over all tasks', async () => {
        const { store } = await fresh();
        expect(await store.countPendingWebhooks!()).toBe(0);
        const twoPending = withDeliveries(1, ['delivered', 'pending', 'pending']);
        await store.insert(twoPending);
        await store.insert(withDeliveries(2, ['pending'], { status: 'failed' }));
        await store.insert(withDeliveries(3, ['delivered', 'failed']));
        await store.insert(taskRecord(4));
        expect(await store.countPendingWebhooks!()).toBe(3);
        const delivered = next(twoPending, {
          nextWebhookAt: null,
          webhook: {
            ...twoPending.webhook!,
            deliveries: twoPending.webhook!.deliveries.map((d) => ({
              ...d,
              status: 'delivered' as const,
            })),
          },
        });
        expect(await store.update(delivered)).toBe(true);
        expect(await store.countPendingWebhooks!()).toBe(1);
      });
    });

    describe('media', () => {
      const media = (id: string, expiresAt: number, bytes = Buffer.from([0, 1, 2, 255])) => ({
        id,
        contentType: 'image/png',
        bytes,
        createdAt: 100,
        expiresAt,
      });

      it('stores bytes, replaces by id, keeps expired ones until a purge at or after expiry', async () => {
        const { store, again } = await fresh();
        expect(await store.getMedia('m1')).toBeUndefined();
        await store.putMedia(media('m1', 1000));
        const read = await store.getMedia('m1');
        expect(read).toEqual(media('m1', 1000));
        expect(Buffer.isBuffer(read?.bytes)).toBe(true);
        await store.putMedia({
          ...media('m1', 3000, Buffer.from('second')),
          contentType: 'video/mp4',
        });
        expect(await (await again()).getMedia('m1')).toEqual({
          ...media('m1', 3000, Buffer.from('second')),
          contentType: 'video/mp4',
        });
        await store.putMedia(media('m2', 2000));
        await store.putMedia(media('m3', 2001));

        expect(await store.purgeMedia(1999)).toBe(0);
        // Expired but not purged yet: still there (the caller checks expiresAt).
        expect((await store.getMedia('m2'))?.expiresAt).toBe(2000);
        expect(await store.purgeMedia(2000)).toBe(1);
        expect(await store.getMedia('m2')).toBeUndefined();
        expect(await store.getMedia('m3')).toBeDefined();
        expect(await store.purgeMedia(10_000)).toBe(2);
        expect(await store.getMedia('m1')).toBeUndefined();
        expect(await store.purgeMedia(10_000)).toBe(0);
      });
    });

    describe('uploaded files', () => {
      const file = (
        id: string,
        tenant: string,
        expiresAt = 5000,
        bytes = Buffer.from([0, 9, 255]),
      ) => ({
        id,
        tenant,
        filename: `${id}.png`,
        contentType: 'image/png',
        size: bytes.length,
        sha256: 'ab'.repeat(32),
        metadata: { ref: 42, tags: ['a'] },
        createdAt: 100,
        expiresAt,
        bytes,
      });
      const info = (f: ReturnType<typeof file>) => {
        const { bytes: _bytes, ...rest } = f;
        return rest;
      };
      const ID = (n: number) => `file_01JD7Z6Q4N8K2V3W5X6Y7Z8A${String(n).padStart(2, '0')}`;

      it('stores bytes and info; lists a tenant’s newest first with a cursor; deletes', async () => {
        const { store, again } = await fresh();
        expect(await store.getFile(ID(1))).toBeUndefined();
        for (const n of [1, 2, 3]) await store.putFile(file(ID(n), 'tenant_a'));
        await store.putFile(file(ID(4), 'tenant_b'));
        const read = await (await again()).getFile(ID(2));
        expect(read).toEqual(file(ID(2), 'tenant_a'));
        expect(Buffer.isBuffer(read?.bytes)).toBe(true);

        const all = await store.listFiles('tenant_a', { limit: 10 });
        expect(all).toEqual([3, 2, 1].map((n) => info(file(ID(n), 'tenant_a'))));
        expect((await store.listFiles('tenant_a', { limit: 2 })).map((f) => f.id)).toEqual([
          ID(3),
          ID(2),
        ]);
        expect(
          (await store.listFiles('tenant_a', { limit: 2, cursor: ID(2) })).map((f) => f.id),
        ).toEqual([ID(1)]);
        expect((await store.listFiles('tenant_b', { limit: 10 })).map((f) => f.id)).toEqual([
          ID(4),
        ]);
        expect(await store.listFiles('tenant_c', { limit: 10 })).toEqual([]);

        expect(await store.deleteFile(ID(2))).toBe(true);
        expect(await store.deleteFile(ID(2))).toBe(false);
        expect(await store.getFile(ID(2))).toBeUndefined();
        expect((await store.listFiles('tenant_a', { limit: 10 })).map((f) => f.id)).toEqual([
          ID(3),
          ID(1),
        ]);
      });

      it('keeps expired files until a purge at or after expiry; purged ones are not listed', async () => {
        const { store } = await fresh();
        await store.putFile(file(ID(1), 'tenant_a', 1000));
        await store.putFile(file(ID(2), 'tenant_a', 2000));
        expect(await store.purgeFiles(999)).toBe(0);
        expect((await store.getFile(ID(1)))?.expiresAt).toBe(1000);
        expect(await store.purgeFiles(1000)).toBe(1);
        expect(await store.getFile(ID(1))).toBeUndefined();
        expect((await store.listFiles('tenant_a', { limit: 10 })).map((f) => f.id)).toEqual([
          ID(2),
        ]);
        expect(await store.purgeFiles(10_000)).toBe(1);
        expect(await store.listFiles('tenant_a', { limit: 10 })).toEqual([]);
      });
    });

    describe('Idempotency-Keys', () => {
      it('claims a free key once; later claims get the stored key; scopes are independent', async () => {
        const { store } = await fresh();
        expect(await store.claimIdempotencyKey(idemRecord(), 1000)).toBe('claimed');
        const held = await store.claimIdempotencyKey(idemRecord({ owner: 'owner-2' }), 1001);
        expect(held).toEqual(idemRecord());
        expect(await store.claimIdempotencyKey(idemRecord({ tenant: 'tenant_b' }), 1001)).toBe(
          'claimed',
        );
        expect(await store.claimIdempotencyKey(idemRecord({ surface: 'openai' }), 1001)).toBe(
          'claimed',
        );
        expect(await store.claimIdempotencyKey(idemRecord({ key: 'k1:x' }), 1001)).toBe('claimed');
        expect(await store.getIdempotencyKey({ ...idemScope, key: 'other' })).toBeUndefined();
      });

      it('updates and releases only for the owner', async () => {
        const { store } = await fresh();
        await store.claimIdempotencyKey(idemRecord(), 1000);
        expect(
          await store.updateIdempotencyKey(idemRecord({ owner: 'intruder', taskId: 't' })),
        ).toBe(false);
        expect(await store.getIdempotencyKey(idemScope)).toEqual(idemRecord());
        const error = {
          code: 'upstream_rejected',
          message: 'no',
          errors: [{ path: 'p', message: 'm' }],
        };
        const completed = idemRecord({ state: 'completed', taskId: 't1', error });
        expect(await store.updateIdempotencyKey(completed)).toBe(true);
        expect(await store.getIdempotencyKey(idemScope)).toEqual(completed);
        await store.releaseIdempotencyKey(idemScope, 'intruder');
        expect(await store.getIdempotencyKey(idemScope)).toBeDefined();
        await store.releaseIdempotencyKey(idemScope, 'owner-1');
        expect(await store.getIdempotencyKey(idemScope)).toBeUndefined();
        expect(await store.updateIdempotencyKey(completed)).toBe(false);
        expect(await store.claimIdempotencyKey(idemRecord({ owner: 'o2' }), 1000)).toBe('claimed');
      });

      it('an expired key, or a claim abandoned before naming a task, is claimed anew', async () => {
        const { store } = await fresh();
        await store.claimIdempotencyKey(idemRecord({ expiresAt: 5000 }), 1000);
        expect(await store.claimIdempotencyKey(idemRecord({ owner: 'o2' }), 4999)).not.toBe(
          'claimed',
        );
        expect(await store.claimIdempotencyKey(idemRecord({ owner: 'o2' }), 5000)).toBe('claimed');
        expect((await store.getIdempotencyKey(idemScope))?.owner).toBe('o2');

        const lease = 1000 + IN_PROGRESS_LEASE_MS;
        await store.claimIdempotencyKey(idemRecord({ key: 'k2' }), 1000);
        expect(
          await store.claimIdempotencyKey(idemRecord({ key: 'k2', owner: 'o3' }), lease - 1),
        ).not.toBe('claimed');
        expect(await store.claimIdempotencyKey(idemRecord({ key: 'k2', owner: 'o3' }), lease)).toBe(
          'claimed',
        );
        // One that named its task is never taken over by the store (the domain replays it).
        await store.claimIdempotencyKey(idemRecord({ key: 'k3', taskId: 't' }), 1000);
        expect(
          await store.claimIdempotencyKey(idemRecord({ key: 'k3', owner: 'o4' }), lease),
        ).toMatchObject({ owner: 'owner-1', taskId: 't' });
        expect(await store.purgeIdempotencyKeys(1000 + 86_399_999)).toBe(0);
        expect(await store.purgeIdempotencyKeys(1000 + 86_400_000)).toBe(3);
        expect(await store.getIdempotencyKey(idemScope)).toBeUndefined();
        expect(await store.getIdempotencyKey({ ...idemScope, key: 'k3' })).toBeUndefined();
        expect(await store.purgeIdempotencyKeys(1000 + 86_400_000)).toBe(0);
      });

      it('of many simultaneous claims on two handles, exactly one wins', async () => {
        const { store, again } = await fresh();
        const other = await again();
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 ? store : other).claimIdempotencyKey(idemRecord({ owner: `o${i}` }), 1000),
          ),
        );
        expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
        const winner = (await other.getIdempotencyKey(idemScope))?.owner;
        expect(results.every((r) => r === 'claimed' || r.owner === winner)).toBe(true);
      });
    });

    describe('Idempotency-Keys after a crash (the domain on this store)', () => {
      it('takes over a claim whose process died before storing its task', async () => {
        const { store } = await fresh();
        let now = 1000;
        await store.claimIdempotencyKey(idemRecord(), now);
        now += IN_PROGRESS_LEASE_MS;
        const task = taskRecord(1, { status: 'queued' });
        const keys = new IdempotencyKeys({ store, now: () => now, getTask: async () => task });
        const out = await keys.run(idemScope, 'fp', async (reserve) => {
          await reserve(task.id);
          await store.insert(task);
          return task;
        });
        expect(out).toEqual({ task, replayed: false });
        expect(await store.getIdempotencyKey(idemScope)).toMatchObject({
          state: 'completed',
          taskId: task.id,
        });
      });

      it('replays the task of a claim whose process died after storing it, starting nothing', async () => {
        const { store } = await fresh();
        const task = taskRecord(1, { status: 'queued' });
        await store.insert(task);
        let now = 1000;
        await store.claimIdempotencyKey(idemRecord({ taskId: task.id }), now);
        now += IN_PROGRESS_LEASE_MS;
        const keys = new IdempotencyKeys({
          store,
          now: () => now,
          getTask: async (_tenant, id) => (await store.get(id))!,
        });
        let started = 0;
        const out = await keys.run(idemScope, 'fp', async () => {
          started++;
          return task;
        });
        expect(out).toEqual({ task, replayed: true });
        expect(started).toBe(0);
      });
    });

    describeAdminStoreConformance(fresh);
    describeSharedSlotsConformance(kind, fresh);

    describe('lifecycle', () => {
      it('answers ping and closes (twice is harmless)', async () => {
        const { store } = await fresh();
        await expect(store.ping()).resolves.toBeUndefined();
        await store.close();
        await store.close();
      });
    });
  });
}
