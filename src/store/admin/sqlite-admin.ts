import type Database from 'better-sqlite3';
import type * as port from '../../domain/admin-store.js';
import type { GroupCommit } from '../sqlite-group-commit.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS admin_tenants (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS admin_keys (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_keys_tenant ON admin_keys (tenant, created_at);
-- Micro-dollars used (charged plus reserved) per tenant and budget period.
CREATE TABLE IF NOT EXISTS budget_used (
  tenant TEXT NOT NULL,
  period TEXT NOT NULL,
  used INTEGER NOT NULL,
  PRIMARY KEY (tenant, period)
);
CREATE TABLE IF NOT EXISTS budget_reservations (
  task_id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  period TEXT NOT NULL,
  limit_micros INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS budget_reservations_expiry ON budget_reservations (expires_at);
CREATE TABLE IF NOT EXISTS usage_ledger (
  task_id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  at INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_ledger_at ON usage_ledger (at);
CREATE INDEX IF NOT EXISTS usage_ledger_tenant ON usage_ledger (tenant, at);
`;

interface ReservationRow {
  task_id: string;
  tenant: string;
  period: string;
  limit_micros: number;
  amount: number;
  expires_at: number;
}

const reservationOf = (r: ReservationRow): port.BudgetReservation => ({
  taskId: r.task_id,
  tenant: r.tenant,
  period: r.period,
  limitMicros: r.limit_micros,
  amountMicros: r.amount,
  expiresAt: r.expires_at,
});

const parse = <T>(row: { data: string } | undefined): T | undefined =>
  row ? (JSON.parse(row.data) as T) : undefined;

/**
 * Tenants, keys, budgets and the ledger of the SQLite store. Each budget change is one
 * immediate transaction (the write lock is taken first), so concurrent reservations never
 * both see the same remaining budget.
 */
export class SqliteAdminStore implements port.AdminStore {
  private readonly q;
  private readonly reserveTx;
  private readonly settleTx;
  private readonly releaseTx;

  constructor(
    private readonly db: Database.Database,
    /** Shares the task writes' commits (a settlement follows its task's final write). */
    private readonly group?: GroupCommit,
  ) {
    db.exec(SCHEMA);
    this.q = {
      insertTenant: db.prepare<[string, string]>(
        'INSERT INTO admin_tenants (id, data) VALUES (?, ?) ON CONFLICT (id) DO NOTHING',
      ),
      updateTenant: db.prepare<[string, string]>('UPDATE admin_tenants SET data = ? WHERE id = ?'),
      getTenant: db.prepare<[string], { data: string }>(
        'SELECT data FROM admin_tenants WHERE id = ?',
      ),
      listTenants: db.prepare<[], { data: string }>('SELECT data FROM admin_tenants ORDER BY id'),
      deleteTenant: db.prepare<[string]>('DELETE FROM admin_tenants WHERE id = ?'),
      deleteTenantKeys: db.prepare<[string]>('DELETE FROM admin_keys WHERE tenant = ?'),
      insertKey: db.prepare<[string, string, string, number, string]>(
        'INSERT INTO admin_keys (id, tenant, hash, created_at, data) VALUES (?, ?, ?, ?, ?)',
      ),
      keyByHash: db.prepare<[string], { data: string }>(
        'SELECT data FROM admin_keys WHERE hash = ?',
      ),
      listKeys: db.prepare<[string], { data: string }>(
        'SELECT data FROM admin_keys WHERE tenant = ? ORDER BY created_at, id',
      ),
      deleteKey: db.prepare<[string]>('DELETE FROM admin_keys WHERE id = ?'),
      used: db.prepare<[string, string], { used: number }>(
        'SELECT used FROM budget_used WHERE tenant = ? AND period = ?',
      ),
      addUsed: db.prepare<[string, string, number]>(
        `INSERT INTO budget_used (tenant, period, used) VALUES (?, ?, ?)
         ON CONFLICT (tenant, period) DO UPDATE SET used = used + excluded.used`,
      ),
      insertReservation: db.prepare<ReservationRow>(
        `INSERT INTO budget_reservations (task_id, tenant, period, limit_micros, amount, expires_at)
         VALUES (@task_id, @tenant, @period, @limit_micros, @amount, @expires_at)`,
      ),
      reservation: db.prepare<[string], ReservationRow>(
        'SELECT * FROM budget_reservations WHERE task_id = ?',
      ),
      deleteReservation: db.prepare<[string]>('DELETE FROM budget_reservations WHERE task_id = ?'),
      expired: db.prepare<[number, number], ReservationRow>(
        'SELECT * FROM budget_reservations WHERE expires_at <= ? ORDER BY expires_at LIMIT ?',
      ),
      insertEntry: db.prepare<[string, string, number, string]>(
        `INSERT INTO usage_ledger (task_id, tenant, at, data) VALUES (?, ?, ?, ?)
         ON CONFLICT (task_id) DO NOTHING`,
      ),
      ledgerAll: db.prepare<[number, number], { data: string }>(
        'SELECT data FROM usage_ledger WHERE at >= ? AND at < ? ORDER BY at',
      ),
      ledgerOf: db.prepare<[string, number, number], { data: string }>(
        'SELECT data FROM usage_ledger WHERE tenant = ? AND at >= ? AND at < ? ORDER BY at',
      ),
    };
    const take = (taskId: string, chargedMicros: number) => {
      const r = this.q.reservation.get(taskId);
      if (!r) return;
      this.q.addUsed.run(r.tenant, r.period, chargedMicros - r.amount);
      this.q.deleteReservation.run(taskId);
    };
    this.reserveTx = db.transaction((r: port.BudgetReservation): port.ReserveOutcome => {
      const used = this.q.used.get(r.tenant, r.period)?.used ?? 0;
      if (used + r.amountMicros > r.limitMicros) return { reserved: false, usedMicros: used };
      this.q.addUsed.run(r.tenant, r.period, r.amountMicros);
      this.q.insertReservation.run({
        task_id: r.taskId,
        tenant: r.tenant,
        period: r.period,
        limit_micros: r.limitMicros,
        amount: r.amountMicros,
        expires_at: r.expiresAt,
      });
      return { reserved: true };
    });
    this.settleTx = db.transaction((e: port.LedgerEntry): boolean => {
      const inserted = this.q.insertEntry.run(e.taskId, e.tenant, e.at, JSON.stringify(e));
      if (inserted.changes === 0) return false;
      take(e.taskId, e.chargedMicros);
      return true;
    });
    this.releaseTx = db.transaction((taskId: string) => take(taskId, 0));
  }

  async insertTenant(tenant: port.TenantRecord): Promise<boolean> {
    return this.q.insertTenant.run(tenant.id, JSON.stringify(tenant)).changes === 1;
  }

  async updateTenant(tenant: port.TenantRecord): Promise<boolean> {
    return this.q.updateTenant.run(JSON.stringify(tenant), tenant.id).changes === 1;
  }

  async getTenant(id: string): Promise<port.TenantRecord | undefined> {
    return parse(this.q.getTenant.get(id));
  }

  async listTenants(): Promise<port.TenantRecord[]> {
    return this.q.listTenants.all().map((row) => JSON.parse(row.data) as port.TenantRecord);
  }

  async deleteTenant(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.q.deleteTenantKeys.run(id);
      return this.q.deleteTenant.run(id).changes === 1;
    })();
  }

  async insertKey(key: port.ApiKeyRecord): Promise<void> {
    this.q.insertKey.run(key.id, key.tenant, key.hash, key.createdAt, JSON.stringify(key));
  }

  async keyByHash(hash: string): Promise<port.ApiKeyRecord | undefined> {
    return parse(this.q.keyByHash.get(hash));
  }

  async listKeys(tenant: string): Promise<port.ApiKeyRecord[]> {
    return this.q.listKeys.all(tenant).map((row) => JSON.parse(row.data) as port.ApiKeyRecord);
  }

  async deleteKey(id: string): Promise<boolean> {
    return this.q.deleteKey.run(id).changes === 1;
  }

  async reserveBudget(reservation: port.BudgetReservation): Promise<port.ReserveOutcome> {
    return this.reserveTx.immediate(reservation);
  }

  async settle(entry: port.LedgerEntry): Promise<boolean> {
    if (this.group) return this.group.run(() => this.settleTx(entry));
    return this.settleTx.immediate(entry);
  }

  /**
   * `settle` inside the caller's open transaction (a savepoint: a failure undoes the
   * settlement alone and is thrown); committed with that transaction.
   */
  settleInTransaction(entry: port.LedgerEntry): boolean {
    return this.settleTx(entry);
  }

  async releaseReservation(taskId: string): Promise<void> {
    this.releaseTx.immediate(taskId);
  }

  async expiredReservations(now: number, limit: number): Promise<port.BudgetReservation[]> {
    return this.q.expired.all(now, limit).map(reservationOf);
  }

  async ledger(q: { tenant?: string; from: number; to: number }): Promise<port.LedgerEntry[]> {
    const rows = q.tenant
      ? this.q.ledgerOf.all(q.tenant, q.from, q.to)
      : this.q.ledgerAll.all(q.from, q.to);
    return rows.map((row) => JSON.parse(row.data) as port.LedgerEntry);
  }
}
