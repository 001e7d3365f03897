import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskRecord } from '../../src/domain/task-record.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import { describeTaskStoreConformance, taskRecord } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'genway-store-conformance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A second handle is a second connection to the same file (a second gateway process).
describeTaskStoreConformance('sqlite', (space) => new SqliteTaskStore(join(dir, `${space}.db`)));

describe('sqlite store: files of an earlier version', () => {
  /** A file written before `history`: one row with the whole record in `data`. */
  function fileBeforeHistory(name: string, task: TaskRecord): string {
    const path = join(dir, name);
    const old = new Database(path);
    old.exec(`CREATE TABLE tasks (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, provider TEXT NOT NULL,
      credential_id TEXT NOT NULL, status TEXT NOT NULL, next_poll_at INTEGER,
      next_webhook_at INTEGER, version INTEGER NOT NULL, data TEXT NOT NULL)`);
    old
      .prepare('INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)')
      .run(
        task.id,
        task.tenant,
        task.provider,
        task.credentialId,
        task.status,
        task.nextPollAt,
        task.version,
        JSON.stringify(task),
      );
    old.close();
    return path;
  }
  const changes: TaskRecord['changes'] = [{ seq: 1, at: 5, status: 'running', progress: 0.25 }];

  it('reads rows with the whole record in `data` (no history column), then writes them split', async () => {
    const task = taskRecord(1, { changeSeq: 1, changes });
    const path = fileBeforeHistory('before-history.db', task);

    const store = new SqliteTaskStore(path);
    try {
      expect(await store.get(task.id)).toEqual(task);
      expect(await store.readView(task.id)).toMatchObject({ id: task.id, progress: 0.25 });
      const written = { ...task, progress: 0.5, version: 2 };
      expect(await store.update(written)).toBe(true);
      expect(await store.get(task.id)).toEqual(written);
      const raw = new Database(path, { readonly: true });
      const row = raw.prepare('SELECT data, history FROM tasks').get() as Record<string, string>;
      raw.close();
      expect(JSON.parse(row.data!)).not.toHaveProperty('changes');
      expect(JSON.parse(row.history!)).toMatchObject({ changes: task.changes });
    } finally {
      await store.close();
    }
  });

  it('keeps the history of such a row through a poll claim (which writes only its due time)', async () => {
    const task = taskRecord(1, { nextPollAt: 100, changeSeq: 1, changes });
    const path = fileBeforeHistory('before-history-claim.db', task);

    const store = new SqliteTaskStore(path);
    try {
      const [claimed] = await store.claimDue(200, 10, 30_000);
      expect(claimed).toEqual({ ...task, nextPollAt: 30_200, version: 2 });
      expect(await store.get(task.id)).toEqual(claimed);
    } finally {
      await store.close();
    }
  });
});
