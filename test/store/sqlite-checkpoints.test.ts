import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { taskFixture } from '../../src/domain/task-record.fixture.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'genway-checkpoints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite WAL checkpoints', () => {
  it('moves committed pages into the database file from the worker, not the request path', async () => {
    const path = join(dir, 'ckpt.db');
    const store = new SqliteTaskStore(path);
    const db = (store as unknown as { db: { pragma(s: string, o?: object): unknown } }).db;
    // The serving connection never checkpoints by itself.
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = statSync(path).size;
    for (let i = 0; i < 500; i++) {
      await store.insert(taskFixture({ id: `task_${String(i).padStart(6, '0')}`, version: 1 }));
    }
    // Only a checkpoint writes pages into the main file (the commits went to the WAL).
    await until(() => statSync(path).size > before, 'a checkpoint', 20_000);
    expect(await store.get('task_000499')).toMatchObject({ id: 'task_000499' });
    await store.close();
  });

  it('closes promptly, and a reopened file has every task', async () => {
    const path = join(dir, 'reopen.db');
    const store = new SqliteTaskStore(path);
    await store.insert(taskFixture({ id: 'task_a', version: 1 }));
    await store.close();
    const again = new SqliteTaskStore(path);
    expect(await again.get('task_a')).toMatchObject({ id: 'task_a' });
    await again.close();
  });
});
