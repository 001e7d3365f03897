import { describe, expect, it } from 'vitest';
import type {
  ApiKeyRecord,
  BudgetReservation,
  LedgerEntry,
  TenantRecord,
} from '../../src/domain/admin-store.js';
import type { TaskStore } from '../../src/domain/task-store.js';

type Fresh = () => Promise<{ store: TaskStore; again: () => Promise<TaskStore> }>;

const tenant = (id: string, fields: Partial<TenantRecord> = {}): TenantRecord => ({
  id,
  name: `Team ${id}`,
  budget: { limitUsd: 1, period: 'day' },
  rateLimit: null,
  createdAt: 1,
  updatedAt: 1,
  ...fields,
});

const apiKey = (id: string, owner: string, createdAt = 1): ApiKeyRecord => ({
  id,
  tenant: owner,
  name: `key ${id}`,
  prefix: 'gk_abcd',
  hash: `hash-of-${id}`,
  expiresAt: null,
  models: ['pixverse/*'],
  operations: null,
  createdAt,
});

const reservation = (taskId: string, amountMicros: number, limitMicros = 1_000_000) =>
  ({
    taskId,
    tenant: 'a',
    period: 'day:2026-12-07',
    limitMicros,
    amountMicros,
    expiresAt: 1000,
  }) satisfies BudgetReservation;

const entry = (taskId: string, chargedMicros: number, fields: Partial<LedgerEntry> = {}) =>
  ({
    taskId,
    tenant: 'a',
    keyId: null,
    provider: 'pixverse',
    model: 'pixverse/v5',
    operation: 'text-to-video',
    status: 'succeeded',
    chargedMicros,
    at: 500,
    ...fields,
  }) satisfies LedgerEntry;

/** The AdminStore of every task store (`TaskStore.admin`): tenants, keys, budgets, ledger. */
export function describeAdminStoreConformance(fresh: Fresh): void {
  describe('tenants and keys', () => {
    it('inserts a tenant once, updates, lists by id and deletes it with its keys', async () => {
      const { store, again } = await fresh();
      const admin = store.admin;
      expect(await admin.insertTenant(tenant('b'))).toBe(true);
      expect(await admin.insertTenant(tenant('a'))).toBe(true);
      expect(await admin.insertTenant(tenant('a', { name: 'other' }))).toBe(false);
      expect(await admin.updateTenant(tenant('zz'))).toBe(false);
      expect(await admin.updateTenant(tenant('a', { name: 'renamed', budget: null }))).toBe(true);
      const other = (await again()).admin;
      expect(await other.getTenant('a')).toEqual(tenant('a', { name: 'renamed', budget: null }));
      expect((await other.listTenants()).map((t) => t.id)).toEqual(['a', 'b']);
      await admin.insertKey(apiKey('k1', 'a'));
      await admin.insertKey(apiKey('k2', 'b'));
      expect(await admin.deleteTenant('a')).toBe(true);
      expect(await admin.deleteTenant('a')).toBe(false);
      expect(await other.getTenant('a')).toBeUndefined();
      expect(await other.keyByHash('hash-of-k1')).toBeUndefined();
      expect(await other.keyByHash('hash-of-k2')).toEqual(apiKey('k2', 'b'));
    });

    it('finds a key by its hash, lists a tenant’s keys oldest first and revokes one', async () => {
      const { store, again } = await fresh();
      const admin = store.admin;
      await admin.insertTenant(tenant('a'));
      await admin.insertKey(apiKey('k2', 'a', 2));
      await admin.insertKey(apiKey('k1', 'a', 1));
      await admin.insertKey(apiKey('k3', 'b', 3));
      const other = (await again()).admin;
      expect(await other.keyByHash('hash-of-k1')).toEqual(apiKey('k1', 'a', 1));
      expect(await other.keyByHash('nothing')).toBeUndefined();
      expect((await other.listKeys('a')).map((k) => k.id)).toEqual(['k1', 'k2']);
      expect(await other.listKeys('nobody')).toEqual([]);
      expect(await admin.deleteKey('k1')).toBe(true);
      expect(await admin.deleteKey('k1')).toBe(false);
      expect(await other.keyByHash('hash-of-k1')).toBeUndefined();
      expect((await other.listKeys('a')).map((k) => k.id)).toEqual(['k2']);
    });
  });

  describe('budgets and the ledger', () => {
    it('reserves while the estimate fits, exactly, then refuses saying what is used', async () => {
      const { store } = await fresh();
      const admin = store.admin;
      for (let i = 0; i < 10; i++) {
        expect(await admin.reserveBudget(reservation(`t${i}`, 100_000))).toEqual({
          reserved: true,
        });
      }
      expect(await admin.reserveBudget(reservation('t10', 1))).toEqual({
        reserved: false,
        usedMicros: 1_000_000,
      });
      // Another period, or another tenant, has its own use.
      expect(
        await admin.reserveBudget({ ...reservation('x', 1), period: 'day:2026-12-08' }),
      ).toEqual({ reserved: true });
      expect(await admin.reserveBudget({ ...reservation('y', 1), tenant: 'b' })).toEqual({
        reserved: true,
      });
    });

    it('reserves atomically under concurrency, also over two handles', async () => {
      const { store, again } = await fresh();
      const other = await again();
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 ? store : other).admin.reserveBudget(reservation(`t${i}`, 100_000)),
        ),
      );
      expect(outcomes.filter((o) => o.reserved)).toHaveLength(10);
    });

    it('settles once: the charge replaces the reservation and the ledger gets one entry', async () => {
      const { store, again } = await fresh();
      const admin = store.admin;
      await admin.reserveBudget(reservation('t1', 600_000));
      await admin.reserveBudget(reservation('t2', 400_000));
      expect(await admin.reserveBudget(reservation('t3', 1))).toMatchObject({ reserved: false });
      // t1 charged less than estimated, t2 refunded: their differences become free again.
      expect(await admin.settle(entry('t1', 500_000))).toBe(true);
      expect(await admin.settle(entry('t1', 500_000))).toBe(false);
      expect(await (await again()).admin.settle(entry('t2', 0, { status: 'failed' }))).toBe(true);
      expect(await admin.reserveBudget(reservation('t3', 500_000))).toEqual({ reserved: true });
      expect(await admin.reserveBudget(reservation('t4', 1))).toEqual({
        reserved: false,
        usedMicros: 1_000_000,
      });
      // A task without a reservation (a tenant without budget) still gets its ledger entry.
      expect(await admin.settle(entry('free', 70, { tenant: 'b', at: 600 }))).toBe(true);
      const all = await admin.ledger({ from: 0, to: 10_000 });
      expect(all.map((e) => e.taskId).sort()).toEqual(['free', 't1', 't2']);
      expect(
        (await admin.ledger({ tenant: 'b', from: 0, to: 10_000 })).map((e) => e.taskId),
      ).toEqual(['free']);
      expect((await admin.ledger({ from: 500, to: 600 })).map((e) => e.taskId).sort()).toEqual([
        't1',
        't2',
      ]);
      expect(await admin.ledger({ from: 0, to: 500 })).toEqual([]);
      expect((await admin.ledger({ tenant: 'a', from: 0, to: 10_000 }))[0]).toEqual(
        all.find((e) => e.taskId === 't1'),
      );
    });

    it('releases a reservation and lists the expired ones', async () => {
      const { store } = await fresh();
      const admin = store.admin;
      await admin.reserveBudget({ ...reservation('t1', 500_000), expiresAt: 10 });
      await admin.reserveBudget({ ...reservation('t2', 500_000), expiresAt: 20 });
      expect((await admin.expiredReservations(15, 10)).map((r) => r.taskId)).toEqual(['t1']);
      expect(await admin.expiredReservations(25, 1)).toEqual([
        { ...reservation('t1', 500_000), expiresAt: 10 },
      ]);
      await admin.releaseReservation('t1');
      await admin.releaseReservation('t1');
      await admin.releaseReservation('never');
      expect((await admin.expiredReservations(25, 10)).map((r) => r.taskId)).toEqual(['t2']);
      expect(await admin.reserveBudget(reservation('t3', 500_000))).toEqual({ reserved: true });
      expect(await admin.reserveBudget(reservation('t4', 1))).toMatchObject({ reserved: false });
    });
  });
}
