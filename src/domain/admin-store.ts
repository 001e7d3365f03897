import type { Operation, TaskStatus } from '../contracts/common.js';

/** A tenant's spending limit (architecture §8). */
export interface TenantBudget {
  limitUsd: number;
  period: BudgetPeriod;
}
export type BudgetPeriod = 'day' | 'month' | 'total';

/** A tenant created through the admin API. */
export interface TenantRecord {
  id: string;
  name: string | null;
  budget: TenantBudget | null;
  /** Requests per window; null: the gateway's default. */
  rateLimit: { max: number; windowMs: number } | null;
  createdAt: number;
  updatedAt: number;
}

/** A gateway key created through the admin API. The key itself is never stored. */
export interface ApiKeyRecord {
  id: string;
  tenant: string;
  name: string | null;
  /** The first characters of the key (`gk_ab12`), to recognise it in a list. */
  prefix: string;
  /** SHA-256 of the key, hex: how a request's key is looked up. */
  hash: string;
  expiresAt: number | null;
  models: string[] | null;
  operations: Operation[] | null;
  createdAt: number;
}

/** The estimate of one task held against its tenant's budget until the task is settled. */
export interface BudgetReservation {
  taskId: string;
  tenant: string;
  /** The budget period the estimate counts in (see budgets.ts `periodKey`). */
  period: string;
  /** The budget's limit and the estimate, in micro-dollars. */
  limitMicros: number;
  amountMicros: number;
  /** When the reservation is released if its task never ends. */
  expiresAt: number;
}

/** The answer of `reserveBudget`: reserved, or refused with what the period has used. */
export type ReserveOutcome = { reserved: true } | { reserved: false; usedMicros: number };

/** One finished task as the usage ledger records it (written once, at settlement). */
export interface LedgerEntry {
  taskId: string;
  tenant: string;
  /** The admin key that created it; null for a key from the configuration. */
  keyId: string | null;
  provider: string;
  model: string;
  operation: Operation;
  status: TaskStatus;
  chargedMicros: number;
  /** When the task was settled (ms). */
  at: number;
}

/**
 * Tenants, keys, budgets and the usage ledger (architecture §8): implemented by each task
 * store (memory, sqlite, Redis) as `TaskStore.admin`, so changes made on one instance are
 * seen by all at once. Every method that must be atomic is atomic in every implementation.
 */
export interface AdminStore {
  /** false when a tenant with that id exists. */
  insertTenant(tenant: TenantRecord): Promise<boolean>;
  /** false when there is no such tenant. */
  updateTenant(tenant: TenantRecord): Promise<boolean>;
  getTenant(id: string): Promise<TenantRecord | undefined>;
  /** Every tenant, by id. */
  listTenants(): Promise<TenantRecord[]>;
  /** Deletes the tenant and its keys (they stop working at once); false when there was none. */
  deleteTenant(id: string): Promise<boolean>;
  insertKey(key: ApiKeyRecord): Promise<void>;
  keyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  /** A tenant's keys, oldest first. */
  listKeys(tenant: string): Promise<ApiKeyRecord[]>;
  /** Revokes (deletes) a key; false when there was none. */
  deleteKey(id: string): Promise<boolean>;
  /**
   * Atomically: when what the reservation's period has used (charged plus reserved) plus its
   * amount fits its limit, stores it and counts it as used; else changes nothing.
   */
  reserveBudget(reservation: BudgetReservation): Promise<ReserveOutcome>;
  /**
   * Atomically, once per task: writes the ledger entry and, if the task holds a reservation,
   * replaces its amount by the charge in its period's use. false: the task was settled already.
   */
  settle(entry: LedgerEntry): Promise<boolean>;
  /** Takes the reservation back (its amount no longer counts); nothing when there is none. */
  releaseReservation(taskId: string): Promise<void>;
  /** Up to `limit` reservations whose `expiresAt` is at or before `now`. */
  expiredReservations(now: number, limit: number): Promise<BudgetReservation[]>;
  /** Ledger entries settled in [from, to), of one tenant or of all. */
  ledger(query: { tenant?: string; from: number; to: number }): Promise<LedgerEntry[]>;
}
