import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { LedgerEntry } from '../domain/admin-store.js';
import type { TaskRecord, TaskView } from '../domain/task-record.js';
import { SqliteAdminStore } from './admin/sqlite-admin.js';
import type * as port from '../domain/task-store.js';
import { WalCheckpoints } from './sqlite-checkpoints.js';
import { GroupCommit } from './sqlite-group-commit.js';
import { SqliteFiles } from './sqlite-files.js';
import { dataOf, rowOf, recordOf, type TaskRow } from './sqlite-rows.js';
import { ViewCache } from './view-cache.js';
import {
  IDEMPOTENCY_SCHEMA,
  idempotencyRecord,
  idempotencyRow,
  prepareIdempotency,
} from './sqlite-idempotency.js';

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
  data TEXT NOT NULL,
  history TEXT
);
CREATE INDEX IF NOT EXISTS tasks_tenant ON tasks (tenant, id);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_webhook_due ON tasks (next_webhook_at) WHERE next_webhook_at IS NOT NULL;
-- Upstream callbacks that name only the upstream job (findByUpstreamId); no column to migrate.
-- Partial: a task enters it once the upstream named its job, so a create's insert (no id yet)
-- writes one index page less, and its final update moves no entry out of the NULL run.
CREATE INDEX IF NOT EXISTS tasks_upstream_known ON tasks (provider, json_extract(data, '$.upstreamId'))
  WHERE json_extract(data, '$.upstreamId') IS NOT NULL;
-- Covers the metrics scrape's GROUP BY provider, status (no table scan of the JSON rows).
CREATE INDEX IF NOT EXISTS tasks_provider_status ON tasks (provider, status);
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

interface ClaimRow {
  id: string;
  due: number;
  version: number;
  data: string;
}

interface MediaRow {
  id: string;
  content_type: string;
  bytes: Buffer;
  created_at: number;
  expires_at: number;
}

/**
 * Embedded store (`sqlite:<path>`, the default). One row per task; the indexed columns are
 * the ones queries filter on, the record lives in `data` as JSON, except what reads never
 * render (the change history, webhook message bodies), kept apart in `history` so that a read
 * parses only `data` (sqlite-rows.ts). WAL mode so reads never wait for the poller's writes.
 */
export class SqliteTaskStore implements port.TaskStore {
  readonly admin: SqliteAdminStore;
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly idem: ReturnType<typeof prepareIdempotency>;
  private readonly files: SqliteFiles;
  private readonly views = new ViewCache();
  private readonly checkpoints?: WalCheckpoints;
  /** Task writes and settlements of one event-loop turn share a commit (sqlite-group-commit.ts). */
  private readonly group: GroupCommit;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // Checkpoints in a worker thread, not inside a request's commit (sqlite-checkpoints.ts).
    if (path !== ':memory:') this.checkpoints = new WalCheckpoints(this.db, path);
    this.migrate();
    this.db.exec(SCHEMA);
    this.db.exec(IDEMPOTENCY_SCHEMA);
    this.idem = prepareIdempotency(this.db);
    this.group = new GroupCommit(this.db, () => this.views.clear());
    this.admin = new SqliteAdminStore(this.db, this.group);
    this.files = new SqliteFiles(this.db);
    this.stmts = {
      insert: this.db.prepare(
        `INSERT INTO tasks (id, tenant, provider, credential_id, status, next_poll_at, next_webhook_at, version, data, history)
         VALUES (@id, @tenant, @provider, @credentialId, @status, @nextPollAt, @nextWebhookAt, @version, @data, @history)`,
      ),
      get: this.db.prepare<[string], TaskRow>('SELECT data, history FROM tasks WHERE id = ?'),
      view: this.db.prepare<[string], string>('SELECT data FROM tasks WHERE id = ?').pluck(),
      // SQLite rewrites the entry of every index on a column an UPDATE sets, changed or not
      // (one more page in the commit's WAL append each): the tenant never changes, so it is
      // not set.
      update: this.db.prepare(
        // Provider and credential too: a create's failover moves its task to another one.
        `UPDATE tasks SET provider = @provider, credential_id = @credentialId,
           status = @status, next_poll_at = @nextPollAt, next_webhook_at = @nextWebhookAt,
           version = @version, data = @data, history = @history
         WHERE id = @id AND version = @version - 1`,
      ),
      // A claim moves one due time and the version; status and history stay as they are.
      claim: {
        nextPollAt: this.db.prepare<ClaimRow>(
          'UPDATE tasks SET next_poll_at = @due, version = @version, data = @data WHERE id = @id',
        ),
        nextWebhookAt: this.db.prepare<ClaimRow>(
          'UPDATE tasks SET next_webhook_at = @due, version = @version, data = @data WHERE id = @id',
        ),
      },
      due: this.db.prepare<[number, number], TaskRow>(
        'SELECT data, history FROM tasks WHERE next_poll_at <= ? ORDER BY next_poll_at LIMIT ?',
      ),
      nextDue: this.db.prepare<[], { at: number | null }>(
        'SELECT MIN(next_poll_at) AS at FROM tasks WHERE next_poll_at IS NOT NULL',
      ),
      webhookDue: this.db.prepare<[number, number], TaskRow>(
        'SELECT data, history FROM tasks WHERE next_webhook_at <= ? ORDER BY next_webhook_at LIMIT ?',
      ),
      nextWebhookDue: this.db.prepare<[], { at: number | null }>(
        'SELECT MIN(next_webhook_at) AS at FROM tasks WHERE next_webhook_at IS NOT NULL',
      ),
      active: this.db.prepare<[string], { credential_id: string; n: number }>(
        `SELECT credential_id, COUNT(*) AS n FROM tasks WHERE provider = ? AND ${ACTIVE} GROUP BY credential_id`,
      ),
      byStatus: this.db.prepare<
        [],
        { provider: string; status: port.TaskCount['status']; n: number }
      >('SELECT provider, status, COUNT(*) AS n FROM tasks GROUP BY provider, status'),
      // A task with a pending delivery always has a next attempt time (the dispatcher's
      // contract), so the partial index on next_webhook_at narrows the JSON scan.
      pendingWebhooks: this.db.prepare<[], { n: number }>(
        `SELECT COUNT(*) AS n FROM tasks, json_each(tasks.data, '$.webhook.deliveries') AS d
         WHERE tasks.next_webhook_at IS NOT NULL AND json_extract(d.value, '$.status') = 'pending'`,
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

  async insert(task: TaskRecord): Promise<void> {
    this.views.forget(task.id);
    const row = rowOf(task);
    await this.group.run(() => this.stmts.insert.run(row));
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const r = this.stmts.get.get(id);
    return r && recordOf(r);
  }

  /**
   * Hot tasks (read over and over by polling clients) are served from memory: every write of
   * a task goes through this handle (one process per file, see README), which forgets its
   * kept view, so a kept view is the stored row as of now.
   */
  async readView(id: string): Promise<TaskView | undefined> {
    const kept = this.views.kept(id);
    if (kept) return kept;
    const data = this.stmts.view.get(id);
    if (data === undefined) return undefined;
    const view = JSON.parse(data) as TaskView;
    this.views.keepCurrent(id, view);
    return view;
  }

  async update(task: TaskRecord): Promise<boolean> {
    this.views.forget(task.id);
    const row = rowOf(task);
    return this.group.run(() => this.stmts.update.run(row).changes === 1);
  }

  /** The final update and the ledger entry in one group, so one commit carries both. */
  async updateAndSettle(task: TaskRecord, entry: LedgerEntry): Promise<port.UpdateAndSettle> {
    this.views.forget(task.id);
    const row = rowOf(task);
    return this.group.run((): port.UpdateAndSettle => {
      if (this.stmts.update.run(row).changes !== 1) return { updated: false };
      try {
        return { updated: true, settled: this.admin.settleInTransaction(entry) };
      } catch (settleError) {
        return { updated: true, settleError };
      }
    });
  }

  async list(tenant: string, q: port.ListQuery): Promise<TaskRecord[]> {
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
      .prepare<(string | number)[], TaskRow>(
        `SELECT data, history FROM tasks WHERE ${where.join(' AND ')} ORDER BY id ${asc ? 'ASC' : 'DESC'} LIMIT ?`,
      )
      .all(...args);
    return rows.map(recordOf);
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]> {
    return this.claim(this.stmts.due, 'nextPollAt', now, limit, leaseMs);
  }

  async nextDueAt(): Promise<number | null> {
    return this.stmts.nextDue.get()?.at ?? null;
  }

  async claimDueWebhooks(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]> {
    return this.claim(this.stmts.webhookDue, 'nextWebhookAt', now, limit, leaseMs);
  }

  /** Takes the due tasks of `due` and pushes their `field` a lease ahead, in one transaction. */
  private claim(
    due: typeof this.stmts.due,
    field: 'nextPollAt' | 'nextWebhookAt',
    now: number,
    limit: number,
    leaseMs: number,
  ): TaskRecord[] {
    const leaseEnd = now + leaseMs;
    const push = this.stmts.claim[field];
    const claim = this.db.transaction(() =>
      due.all(now, limit).map((row) => {
        const t = recordOf(row);
        t[field] = leaseEnd;
        t.version += 1;
        this.views.forget(t.id);
        // A row of an older file (history NULL) is written whole, so that it is split.
        if (row.history === null) this.stmts.update.run(rowOf(t));
        else push.run({ id: t.id, due: leaseEnd, version: t.version, data: dataOf(t) });
        return t;
      }),
    );
    return claim.immediate();
  }

  async nextWebhookDueAt(): Promise<number | null> {
    return this.stmts.nextWebhookDue.get()?.at ?? null;
  }

  /**
   * Files written by an earlier version lack later columns: add them in place. Rows written
   * before `history` keep their whole record in `data` (history NULL) until their next write.
   */
  private migrate(): void {
    const columns = this.db.prepare<[], { name: string }>('PRAGMA table_info(tasks)').all();
    if (columns.length > 0 && !columns.some((c) => c.name === 'next_webhook_at')) {
      this.db.exec('ALTER TABLE tasks ADD COLUMN next_webhook_at INTEGER');
    }
    if (columns.length > 0 && !columns.some((c) => c.name === 'history')) {
      this.db.exec('ALTER TABLE tasks ADD COLUMN history TEXT');
    }
    // Replaced by the partial tasks_upstream_known (created with the schema).
    this.db.exec('DROP INDEX IF EXISTS tasks_upstream');
  }

  private byUpstream?: Database.Statement<[string, string], TaskRow>;

  async findByUpstreamId(provider: string, upstreamId: string): Promise<TaskRecord | undefined> {
    // The expression matches the tasks_upstream_known index exactly (and `= ?` implies its
    // IS NOT NULL), so SQLite uses it.
    this.byUpstream ??= this.db.prepare<[string, string], TaskRow>(
      `SELECT data, history FROM tasks WHERE provider = ? AND json_extract(data, '$.upstreamId') = ?
       ORDER BY id DESC LIMIT 1`,
    );
    const r = this.byUpstream.get(provider, upstreamId);
    return r && recordOf(r);
  }

  async countActiveByCredential(provider: string): Promise<Map<string, number>> {
    return new Map(this.stmts.active.all(provider).map((r) => [r.credential_id, r.n]));
  }

  async countByStatus(): Promise<port.TaskCount[]> {
    return this.stmts.byStatus
      .all()
      .map((r) => ({ provider: r.provider, status: r.status, count: r.n }));
  }

  async countPendingWebhooks(): Promise<number> {
    return this.stmts.pendingWebhooks.get()?.n ?? 0;
  }

  async putMedia(media: port.StoredMedia): Promise<void> {
    this.stmts.putMedia.run(media);
  }

  async getMedia(id: string): Promise<port.StoredMedia | undefined> {
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

  async putFile(file: port.StoredFile): Promise<void> {
    this.files.put(file);
  }

  async getFile(id: string): Promise<port.StoredFile | undefined> {
    return this.files.get(id);
  }

  async listFiles(tenant: string, query: { limit: number; cursor?: string }) {
    return this.files.list(tenant, query) satisfies port.StoredFileInfo[];
  }

  async deleteFile(id: string): Promise<boolean> {
    return this.files.delete(id);
  }

  async purgeFiles(now: number): Promise<number> {
    return this.files.purge(now);
  }

  async claimIdempotencyKey(
    record: port.IdempotencyRecord,
    now: number,
  ): Promise<'claimed' | port.IdempotencyRecord> {
    const scope = { tenant: record.tenant, surface: record.surface, key: record.key };
    // One write transaction: two processes sharing the file cannot both claim the key.
    const claim = this.db.transaction(() => {
      this.idem.clear.run({ ...scope, now });
      this.idem.insert.run(idempotencyRow(record));
      return this.idem.get.get(scope);
    });
    const held = claim.immediate();
    if (!held) throw new Error('idempotency key vanished inside its claim');
    return held.owner === record.owner ? 'claimed' : idempotencyRecord(held);
  }

  async updateIdempotencyKey(record: port.IdempotencyRecord): Promise<boolean> {
    return this.idem.update.run(idempotencyRow(record)).changes === 1;
  }

  async getIdempotencyKey(
    scope: port.IdempotencyScope,
  ): Promise<port.IdempotencyRecord | undefined> {
    const r = this.idem.get.get({ tenant: scope.tenant, surface: scope.surface, key: scope.key });
    return r && idempotencyRecord(r);
  }

  async releaseIdempotencyKey(scope: port.IdempotencyScope, owner: string): Promise<void> {
    this.idem.release.run({ tenant: scope.tenant, surface: scope.surface, key: scope.key, owner });
  }

  async purgeIdempotencyKeys(now: number): Promise<number> {
    return this.idem.purge.run(now).changes;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.group.flush();
    await this.checkpoints?.close();
    this.views.clear();
    if (this.db.open) this.db.close();
  }
}
