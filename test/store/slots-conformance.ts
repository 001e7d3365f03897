import { describe, expect, it } from 'vitest';
import type { SharedSlots } from '../../src/domain/shared-slots.js';
import type { TaskStore } from '../../src/domain/task-store.js';
import { coordinationFor, type StoreCoordination } from '../../src/store/coordination.js';
import { taskRecord } from './conformance.js';
import { until } from '../helpers/until.js';

type Fresh = () => Promise<{ store: TaskStore; again: () => Promise<TaskStore> }>;

const P = 'modelslab';
const CRED = 'modelslab-1';

/**
 * Credential slots shared between instances (cluster mode, see domain/shared-slots.ts), on the
 * coordination of a store that has them; a one-process store has none (its pools count).
 */
export function describeSharedSlotsConformance(kind: string, fresh: Fresh): void {
  describe('shared credential slots', () => {
    /** The slots of a store's coordination (each handle is one instance), or none. */
    async function slotsOf(store: TaskStore, opened: StoreCoordination[], slotLeaseMs?: number) {
      const coordination = coordinationFor(store, slotLeaseMs ? { slotLeaseMs } : {});
      opened.push(coordination);
      return coordination.slots;
    }
    const closeAll = async (opened: StoreCoordination[]) => {
      for (const c of opened) await c.close();
    };
    /** Runs `body` on the slots of two handles, or checks there are none (one process). */
    async function withSlots(
      body: (a: SharedSlots, b: SharedSlots, store: TaskStore) => Promise<void>,
      slotLeaseMs?: number,
    ): Promise<void> {
      const { store, again } = await fresh();
      const opened: StoreCoordination[] = [];
      try {
        const a = await slotsOf(store, opened, slotLeaseMs);
        const b = await slotsOf(await again(), opened, slotLeaseMs);
        if (kind !== 'redis') {
          expect([a, b]).toEqual([undefined, undefined]);
          return;
        }
        await body(a!, b!, store);
      } finally {
        await closeAll(opened);
      }
    }

    it('takes up to the cap over two instances at once, never beyond; a holder keeps one slot', async () => {
      await withSlots(async (a, b) => {
        const takes = await Promise.all(
          Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).take(P, CRED, `h${i}`, 3)),
        );
        const winners = takes.flatMap((t, i) => (t.taken ? [`h${i}`] : []));
        expect(winners).toHaveLength(3);
        expect(takes.filter((t) => !t.taken).every((t) => t.held === 3)).toBe(true);
        // Asking again for a holder that has a slot: still one slot.
        expect(await a.take(P, CRED, winners[0]!, 3)).toEqual({ taken: true, held: 3 });
        expect(await b.held(P, [CRED, 'modelslab-2'])).toEqual(
          new Map([
            [CRED, 3],
            ['modelslab-2', 0],
          ]),
        );
        await a.release(P, CRED, winners[1]!);
        expect((await b.take(P, CRED, 'late', 3)).taken).toBe(true);
      });
    });

    it('a reservation becomes its task’s slot once stored, freed only as the task finishes or moves', async () => {
      await withSlots(async (a, b, store) => {
        const task = taskRecord(1, { status: 'queued', credentialId: CRED });
        expect((await a.take(P, CRED, task.id, 1)).taken).toBe(true);
        await store.insert(task);
        // The create's own give-back no longer frees a stored unfinished task's slot.
        await a.release(P, CRED, task.id);
        expect(await b.take(P, CRED, 'other', 1)).toEqual({ taken: false, held: 1 });
        // A failover to another credential: the old slot frees as the task moves.
        expect((await b.take(P, 'modelslab-2', task.id, 1)).taken).toBe(true);
        const moved = { ...task, credentialId: 'modelslab-2', version: 2 };
        expect(await store.update(moved)).toBe(true);
        expect(await a.held(P, [CRED, 'modelslab-2'])).toEqual(
          new Map([
            [CRED, 0],
            ['modelslab-2', 1],
          ]),
        );
        const done = { ...moved, status: 'succeeded' as const, version: 3 };
        expect(await store.update(done)).toBe(true);
        expect((await a.held(P, ['modelslab-2'])).get('modelslab-2')).toBe(0);
        expect((await b.take(P, 'modelslab-2', 'next', 1)).taken).toBe(true);
      });
    });

    it('unfinished tasks count whether or not a reservation came first', async () => {
      await withSlots(async (a, _b, store) => {
        await store.insert(taskRecord(1, { status: 'running', credentialId: CRED }));
        await store.insert(taskRecord(2, { status: 'queued', credentialId: CRED }));
        await store.insert(taskRecord(3, { status: 'failed', credentialId: CRED }));
        await store.insert(taskRecord(4, { status: 'running', tenant: 'tenant_b' }));
        expect(await a.take(P, CRED, 'h', 2)).toEqual({ taken: false, held: 3 });
        expect((await a.take(P, CRED, 'h', 4)).taken).toBe(true);
        // Per tenant (fair shares): unfinished tasks over all credentials, reservations not.
        expect(await a.heldByTenant(P)).toEqual(
          new Map([
            ['tenant_a', 2],
            ['tenant_b', 1],
          ]),
        );
      });
    });

    it('an insert within the cap takes its slot over two instances at once, never beyond', async () => {
      const { store, again } = await fresh();
      if (kind !== 'redis') {
        expect(store.insertWithinCap).toBeUndefined();
        return;
      }
      const other = await again();
      const opened: StoreCoordination[] = [];
      try {
        const slots = (await slotsOf(store, opened))!;
        // One slot of three is a live reservation of a create elsewhere.
        expect((await slots.take(P, CRED, 'reserved-elsewhere', 3)).taken).toBe(true);
        const tasks = Array.from({ length: 6 }, (_, i) =>
          taskRecord(i + 1, { status: 'queued', credentialId: CRED }),
        );
        const inserted = await Promise.all(
          tasks.map((t, i) => (i % 2 ? store : other).insertWithinCap!(t, 3)),
        );
        expect(inserted.filter(Boolean)).toHaveLength(2);
        const stored = await Promise.all(tasks.map((t) => store.get(t.id)));
        expect(stored.map((t) => t !== undefined)).toEqual(inserted);
        expect(await slots.held(P, [CRED])).toEqual(new Map([[CRED, 3]]));
        // A finished task frees its place for the next insert.
        const first = stored.find((t) => t !== undefined)!;
        expect(await store.update({ ...first, status: 'succeeded', version: 2 })).toBe(true);
        const next = taskRecord(7, { status: 'queued', credentialId: CRED });
        expect(await other.insertWithinCap!(next, 3)).toBe(true);
        expect(await other.insertWithinCap!(taskRecord(8, { credentialId: CRED }), 3)).toBe(false);
      } finally {
        await closeAll(opened);
      }
    });

    it('a reservation whose task is never stored frees its slot after the lease', async () => {
      await withSlots(async (a, b) => {
        // An instance that died between the reservation and its insert.
        expect((await a.take(P, CRED, 'dead-create', 1)).taken).toBe(true);
        expect((await b.take(P, CRED, 'waiting', 1)).taken).toBe(false);
        await until(async () => (await b.take(P, CRED, 'waiting', 1)).taken, 'the lease to end');
        expect((await b.held(P, [CRED])).get(CRED)).toBe(1);
      }, 1500);
    });
  });
}
