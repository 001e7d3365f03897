import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { TaskRecord } from '../domain/task-record.js';
import type { ListQuery, StoredMedia, TaskStore } from './task-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  provider TEXT NOT NULL,
  credential_id TEXT NOT NULL,
  status TEXT NOT NULL,
  next_poll_at INTEGER,
  next_webhook_at INTEGER,
  version INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_tenant ON tasks (tenant, id);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_webhook_due ON tasks (next_webhook_at) WHERE next_webhook_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS media (
  id TEXT PRIMARY KEY,
  content_type TEXT NOT NULL,
  bytes BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS media_expiry ON media (expires_at);
`;

const ACTIVE = `status IN ('queued', 'running')`;

interface MediaRow {
  id: string;
  content_type: string;
  bytes: Buffer;
  created_at: number;
  expires_at: number;
}

/**
 * Embedded store (`sqlite:<path>`, the default). One row per task; the indexed columns are
 * the ones queries filter on, the whole record lives in `data` as JSON. WAL mode so reads
 * never wait for the poller's writes.
 */
export class SqliteTaskStore implements TaskStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.db.exec(SCHEMA);
    this.stmts = {
      insert: this.db.prepare(
        `INSERT INTO tasks (id, tenant, provider, credential_id, status, next_poll_at, next_webhook_at, version, data)
         VALUES (@id, @tenant, @provider, @credentialId, @status, @nextPollAt, @nextWebhookAt, @version, @data)`,
      ),
      get: this.db.prepare<[string], { data: string }>('SELECT data FROM tasks WHERE id = ?'),
      update: this.db.prepare(
        `UPDATE tasks SET status = @status, next_poll_at = @nextPollAt, next_webhook_at = @nextWebhookAt,
           version = @version, data = @data
         WHERE id = @id AND version = @version - 1`,
      ),
      due: this.db.prepare<[number, number], { data: string }>(
        'SELECT data FROM tasks WHERE next_poll_at <= ? ORDER BY next_poll_at LIMIT ?',
      ),
      nextDue: this.db.prepare<[], { at: number | null }>(
        'SELECT MIN(next_poll_at) AS at FROM tasks WHERE next_poll_at IS NOT NULL',
      ),
      webhookDue: this.db.prepare<[number, number], { data: string }>(
        'SELECT data FROM tasks WHERE next_webhook_at <= ? ORDER BY next_webhook_at LIMIT ?',
      ),
      nextWebhookDue: this.db.prepare<[], { at: number | null }>(
        'SELECT MIN(next_webhook_at) AS at FROM tasks WHERE next_webhook_at IS NOT NULL',
      ),
      active: this.db.prepare<[string], { credential_id: string; n: number }>(
        `SELECT credential_id, COUNT(*) AS n FROM tasks WHERE provider = ? AND ${ACTIVE} GROUP BY credential_id`,
      ),
      putMedia: this.db.prepare(
        `INSERT OR REPLACE INTO media (id, content_type, bytes, created_at, expires_at)
         VALUES (@id, @contentType, @bytes, @createdAt, @expiresAt)`,
      ),
      getMedia: this.db.prepare<[string], MediaRow>(
        'SELECT id, content_type, bytes, created_at, expires_at FROM media WHERE id = ?',
      ),
      purgeMedia: this.db.prepare<[number]>('DELETE FROM media WHERE expires_at <= ?'),
    };
  }

  private row(task: TaskRecord) {
    return {
      id: task.id,
      tenant: task.tenant,
      provider: task.provider,
      credentialId: task.credentialId,
      status: task.status,
      nextPollAt: task.nextPollAt,
      nextWebhookAt: task.nextWebhookAt ?? null,
      version: task.version,
      data: JSON.stringify(task),
    };
  }

  async insert(task: TaskRecord): Promise<void> {
    this.stmts.insert.run(this.row(task));
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const r = this.stmts.get.get(id);
    return r && (JSON.parse(r.data) as TaskRecord);
  }

  async update(task: TaskRecord): Promise<boolean> {
    return this.stmts.update.run(this.row(task)).changes === 1;
  }

  async list(tenant: string, q: ListQuery): Promise<TaskRecord[]> {
    const asc = q.order === 'asc';
    // Type and deletion live in the JSON record only (no column, no migration).
    const where = ['tenant = ?', "json_extract(data, '$.deletedAt') IS NULL"];
    const args: (string | number)[] = [tenant];
    if (q.cursor) {
      where.push(asc ? 'id > ?' : 'id < ?');
      args.push(q.cursor);
    }
    if (q.status) {
      where.push('status = ?');
      args.push(q.status);
    }
    if (q.types) {
      where.push(
        `json_extract(data, '$.type') IN (${q.types.map(() => '?').join(', ') || 'NULL'})`,
      );
      args.push(...q.types);
    }
    args.push(q.limit);
    const rows = this.db
      .prepare<(string | number)[], { data: string }>(
        `SELECT data FROM tasks WHERE ${where.join(' AND ')} ORDER BY id ${asc ? 'ASC' : 'DESC'} LIMIT ?`,
      )
      .all(...args);
    return rows.map((r) => JSON.parse(r.data) as TaskRecord);
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]> {
    const claim = this.db.transaction(() => {
      const tasks = this.stmts.due.all(now, limit).map((r) => JSON.parse(r.data) as TaskRecord);
      for (const t of tasks) {
        t.nextPollAt = now + leaseMs;
        t.version += 1;
        this.stmts.update.run(this.row(t));
      }
      return tasks;
    });
    return claim.immediate();
  }

  async nextDueAt(): Promise<number | null> {
    return this.stmts.nextDue.get()?.at ?? null;
  }

  async claimDueWebhooks(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]> {
    const claim = this.db.transaction(() => {
      const tasks = this.stmts.webhookDue
        .all(now, limit)
        .map((r) => JSON.parse(r.data) as TaskRecord);
      for (const t of tasks) {
        t.nextWebhookAt = now + leaseMs;
        t.version += 1;
        this.stmts.update.run(this.row(t));
      }
      return tasks;
    });
    return claim.immediate();
  }

  async nextWebhookDueAt(): Promise<number | null> {
    return this.stmts.nextWebhookDue.get()?.at ?? null;
  }

  /** Files written by an earlier version lack later columns: add them in place. */
  private migrate(): void {
    const columns = this.db.prepare<[], { name: string }>('PRAGMA table_info(tasks)').all();
    if (columns.length > 0 && !columns.some((c) => c.name === 'next_webhook_at')) {
      this.db.exec('ALTER TABLE tasks ADD COLUMN next_webhook_at INTEGER');
    }
  }

  async countActiveByCredential(provider: string): Promise<Map<string, number>> {
    return new Map(this.stmts.active.all(provider).map((r) => [r.credential_id, r.n]));
  }

  async putMedia(media: StoredMedia): Promise<void> {
    this.stmts.putMedia.run(media);
  }

  async getMedia(id: string): Promise<StoredMedia | undefined> {
    const r = this.stmts.getMedia.get(id);
    return (
      r && {
        id: r.id,
        contentType: r.content_type,
        bytes: r.bytes,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
      }
    );
  }

  async purgeMedia(now: number): Promise<number> {
    return this.stmts.purgeMedia.run(now).changes;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
