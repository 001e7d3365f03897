import type Database from 'better-sqlite3';
import type { StoredFile, StoredFileInfo } from '../domain/task-store.js';

const FILES_SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  info TEXT NOT NULL,
  bytes BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS files_tenant ON files (tenant, id);
CREATE INDEX IF NOT EXISTS files_expiry ON files (expires_at);
`;

/** Uploaded files of the SQLite store: the info as JSON, the bytes as a BLOB beside it. */
export class SqliteFiles {
  private readonly stmts;

  constructor(db: Database.Database) {
    db.exec(FILES_SCHEMA);
    this.stmts = {
      put: db.prepare(
        'INSERT INTO files (id, tenant, expires_at, info, bytes) VALUES (@id, @tenant, @expiresAt, @info, @bytes)',
      ),
      get: db.prepare<[string], { info: string; bytes: Buffer }>(
        'SELECT info, bytes FROM files WHERE id = ?',
      ),
      list: db.prepare<[string, string, number], { info: string }>(
        'SELECT info FROM files WHERE tenant = ? AND id < ? ORDER BY id DESC LIMIT ?',
      ),
      delete: db.prepare<[string]>('DELETE FROM files WHERE id = ?'),
      purge: db.prepare<[number]>('DELETE FROM files WHERE expires_at <= ?'),
    };
  }

  put(file: StoredFile): void {
    const { bytes, ...info } = file;
    this.stmts.put.run({ ...info, info: JSON.stringify(info), bytes });
  }

  get(id: string): StoredFile | undefined {
    const row = this.stmts.get.get(id);
    return row && { ...(JSON.parse(row.info) as StoredFileInfo), bytes: row.bytes };
  }

  list(tenant: string, query: { limit: number; cursor?: string }): StoredFileInfo[] {
    // Every id is below "file_~" ('~' sorts after the ULID alphabet).
    return this.stmts.list
      .all(tenant, query.cursor ?? 'file_~', query.limit)
      .map((r) => JSON.parse(r.info) as StoredFileInfo);
  }

  delete(id: string): boolean {
    return this.stmts.delete.run(id).changes > 0;
  }

  purge(now: number): number {
    return this.stmts.purge.run(now).changes;
  }
}
