import type Database from 'better-sqlite3';
import type { IdempotencyRecord, IdempotencyScope } from '../domain/task-store.js';

/** Idempotency-Keys (domain/idempotency.ts): one row per tenant, surface and key. */
export const IDEMPOTENCY_SCHEMA = `
CREATE TABLE IF NOT EXISTS idempotency_keys (
  tenant TEXT NOT NULL,
  surface TEXT NOT NULL,
  key TEXT NOT NULL,
  owner TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL,
  task_id TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  locked_until INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, surface, key)
);
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency_keys (expires_at);
`;

interface IdempotencyRow {
  tenant: string;
  surface: string;
  key: string;
  owner: string;
  fingerprint: string;
  state: IdempotencyRecord['state'];
  task_id: string | null;
  error: string | null;
  created_at: number;
  locked_until: number;
  expires_at: number;
}

const SCOPE = 'tenant = @tenant AND surface = @surface AND key = @key';

export function prepareIdempotency(db: Database.Database) {
  return {
    // Expired keys, and claims abandoned before they named a task, count as absent.
    clear: db.prepare<{ tenant: string; surface: string; key: string; now: number }>(
      `DELETE FROM idempotency_keys WHERE ${SCOPE} AND (expires_at <= @now
         OR (state = 'in_progress' AND task_id IS NULL AND locked_until <= @now))`,
    ),
    insert: db.prepare<IdempotencyRow>(
      `INSERT INTO idempotency_keys (tenant, surface, key, owner, fingerprint, state, task_id, error,
         created_at, locked_until, expires_at)
       VALUES (@tenant, @surface, @key, @owner, @fingerprint, @state, @task_id, @error,
         @created_at, @locked_until, @expires_at)
       ON CONFLICT (tenant, surface, key) DO NOTHING`,
    ),
    get: db.prepare<IdempotencyScope, IdempotencyRow>(
      `SELECT * FROM idempotency_keys WHERE ${SCOPE}`,
    ),
    update: db.prepare<IdempotencyRow>(
      `UPDATE idempotency_keys SET fingerprint = @fingerprint, state = @state, task_id = @task_id,
         error = @error, locked_until = @locked_until, expires_at = @expires_at
       WHERE ${SCOPE} AND owner = @owner`,
    ),
    release: db.prepare<IdempotencyScope & { owner: string }>(
      `DELETE FROM idempotency_keys WHERE ${SCOPE} AND owner = @owner`,
    ),
    purge: db.prepare<[number]>('DELETE FROM idempotency_keys WHERE expires_at <= ?'),
  };
}

export const idempotencyRow = (r: IdempotencyRecord): IdempotencyRow => ({
  tenant: r.tenant,
  surface: r.surface,
  key: r.key,
  owner: r.owner,
  fingerprint: r.fingerprint,
  state: r.state,
  task_id: r.taskId,
  error: r.error ? JSON.stringify(r.error) : null,
  created_at: r.createdAt,
  locked_until: r.lockedUntil,
  expires_at: r.expiresAt,
});

/** A row read back (`SELECT *`: its columns only); the columns not renamed keep their value. */
export function idempotencyRecord(row: IdempotencyRow): IdempotencyRecord {
  const { task_id, error, created_at, locked_until, expires_at, ...same } = row;
  return {
    ...same,
    taskId: task_id,
    error: error ? (JSON.parse(error) as IdempotencyRecord['error']) : null,
    createdAt: created_at,
    lockedUntil: locked_until,
    expiresAt: expires_at,
  };
}
