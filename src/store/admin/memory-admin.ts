import type * as port from '../../domain/admin-store.js';

const copy = <T>(value: T): T => structuredClone(value);

/** Tenants, keys, budgets and the ledger of the memory store (one process: trivially atomic). */
export class MemoryAdminStore implements port.AdminStore {
  private readonly tenants = new Map<string, port.TenantRecord>();
  private readonly keys = new Map<string, port.ApiKeyRecord>();
  /** `<tenant>\n<period>` → micro-dollars used (charged plus reserved). */
  private readonly used = new Map<string, number>();
  private readonly reservations = new Map<string, port.BudgetReservation>();
  private readonly entries: port.LedgerEntry[] = [];
  private readonly settled = new Set<string>();

  async insertTenant(tenant: port.TenantRecord): Promise<boolean> {
    if (this.tenants.has(tenant.id)) return false;
    this.tenants.set(tenant.id, copy(tenant));
    return true;
  }

  async updateTenant(tenant: port.TenantRecord): Promise<boolean> {
    if (!this.tenants.has(tenant.id)) return false;
    this.tenants.set(tenant.id, copy(tenant));
    return true;
  }

  async getTenant(id: string): Promise<port.TenantRecord | undefined> {
    const tenant = this.tenants.get(id);
    return tenant && copy(tenant);
  }

  async listTenants(): Promise<port.TenantRecord[]> {
    return [...this.tenants.values()].sort((a, b) => a.id.localeCompare(b.id)).map(copy);
  }

  async deleteTenant(id: string): Promise<boolean> {
    for (const [hash, key] of this.keys) if (key.tenant === id) this.keys.delete(hash);
    return this.tenants.delete(id);
  }

  async insertKey(key: port.ApiKeyRecord): Promise<void> {
    this.keys.set(key.hash, copy(key));
  }

  async keyByHash(hash: string): Promise<port.ApiKeyRecord | undefined> {
    const key = this.keys.get(hash);
    return key && copy(key);
  }

  async listKeys(tenant: string): Promise<port.ApiKeyRecord[]> {
    return [...this.keys.values()]
      .filter((k) => k.tenant === tenant)
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
      .map(copy);
  }

  async deleteKey(id: string): Promise<boolean> {
    for (const [hash, key] of this.keys) {
      if (key.id === id) return this.keys.delete(hash);
    }
    return false;
  }

  async reserveBudget(r: port.BudgetReservation): Promise<port.ReserveOutcome> {
    const period = `${r.tenant}\n${r.period}`;
    const used = this.used.get(period) ?? 0;
    if (used + r.amountMicros > r.limitMicros) return { reserved: false, usedMicros: used };
    this.used.set(period, used + r.amountMicros);
    this.reservations.set(r.taskId, copy(r));
    return { reserved: true };
  }

  async settle(entry: port.LedgerEntry): Promise<boolean> {
    if (this.settled.has(entry.taskId)) return false;
    this.settled.add(entry.taskId);
    this.entries.push(copy(entry));
    const r = this.reservations.get(entry.taskId);
    if (r) this.take(r, entry.chargedMicros);
    return true;
  }

  async releaseReservation(taskId: string): Promise<void> {
    const r = this.reservations.get(taskId);
    if (r) this.take(r, 0);
  }

  async expiredReservations(now: number, limit: number): Promise<port.BudgetReservation[]> {
    return [...this.reservations.values()]
      .filter((r) => r.expiresAt <= now)
      .sort((a, b) => a.expiresAt - b.expiresAt)
      .slice(0, limit)
      .map(copy);
  }

  async ledger(q: { tenant?: string; from: number; to: number }): Promise<port.LedgerEntry[]> {
    return this.entries
      .filter((e) => e.at >= q.from && e.at < q.to && (!q.tenant || e.tenant === q.tenant))
      .map(copy);
  }

  /** Ends a reservation: its amount is replaced by `chargedMicros` in its period's use. */
  private take(r: port.BudgetReservation, chargedMicros: number): void {
    const period = `${r.tenant}\n${r.period}`;
    this.used.set(period, (this.used.get(period) ?? 0) - r.amountMicros + chargedMicros);
    this.reservations.delete(r.taskId);
  }
}
