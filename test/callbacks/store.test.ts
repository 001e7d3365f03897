import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskRecord } from '../../src/domain/task-record.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import type { TaskStore } from '../../src/domain/task-store.js';

const dir = mkdtempSync(join(tmpdir(), 'genway-callbacks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function task(id: string, provider: string, upstreamId: string | null): TaskRecord {
  return {
    id,
    tenant: 'tenant_a',
    type: 'text-to-video',
    model: `${provider}/m`,
    provider,
    status: 'running',
    progress: null,
    outputs: [],
    error: null,
    upstreamId,
    upstreamStatus: '5',
    metadata: {},
    createdAt: 1,
    updatedAt: 1,
    completedAt: null,
    credentialId: `${provider}-1`,
    upstreamState: {},
    nextPollAt: 10,
    pollAttempts: 0,
    lastContactAt: 1,
    version: 1,
    changeSeq: 0,
    changes: [],
    webhook: null,
    nextWebhookAt: null,
  };
}

describe.each([
  ['memory', () => new MemoryTaskStore()],
  ['sqlite', () => new SqliteTaskStore(join(dir, 'tasks.db'))],
] as [string, () => TaskStore][])('%s store: findByUpstreamId', (_name, make) => {
  it('finds the task of a provider by its upstream job, the newest when several', async () => {
    const store = make();
    try {
      await store.insert(task('task_01A', 'pixverse', '312345678901'));
      await store.insert(task('task_01B', 'replicate', '312345678901'));
      await store.insert(task('task_01C', 'pixverse', null));
      expect((await store.findByUpstreamId('pixverse', '312345678901'))?.id).toBe('task_01A');
      expect((await store.findByUpstreamId('replicate', '312345678901'))?.id).toBe('task_01B');
      expect(await store.findByUpstreamId('haiper', '312345678901')).toBeUndefined();
      expect(await store.findByUpstreamId('pixverse', '999')).toBeUndefined();

      // The id the create's answer brought in later is found too (an update, not the insert).
      const c = (await store.get('task_01C'))!;
      expect(await store.update({ ...c, upstreamId: '312345678902', version: c.version + 1 })).toBe(
        true,
      );
      expect((await store.findByUpstreamId('pixverse', '312345678902'))?.id).toBe('task_01C');
      await store.insert(task('task_01D', 'pixverse', '312345678901'));
      expect((await store.findByUpstreamId('pixverse', '312345678901'))?.id).toBe('task_01D');
    } finally {
      await store.close();
    }
  });
});

describe('sqlite store: the upstream lookup uses its index', () => {
  it('plans an index search, not a scan of the JSON rows', async () => {
    const store = new SqliteTaskStore(join(dir, 'plan.db'));
    try {
      const db = (store as unknown as { db: Database }).db;
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT data FROM tasks WHERE provider = ? AND json_extract(data, '$.upstreamId') = ?
           ORDER BY id DESC LIMIT 1`,
        )
        .all('pixverse', '1') as { detail: string }[];
      expect(plan.map((p) => p.detail).join(' ')).toContain('tasks_upstream_known');
    } finally {
      await store.close();
    }
  });

  it('replaces the full index of an older file by the partial one', async () => {
    const path = join(dir, 'older-index.db');
    const first = new SqliteTaskStore(path);
    const db = (first as unknown as { db: Database }).db;
    db.exec('DROP INDEX tasks_upstream_known');
    db.exec(`CREATE INDEX tasks_upstream ON tasks (provider, json_extract(data, '$.upstreamId'))`);
    await first.insert(task('task_01E', 'pixverse', '312345678903'));
    await first.close();
    const store = new SqliteTaskStore(path);
    try {
      const names = (store as unknown as { db: Database }).db
        .prepare(
          `SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'tasks_upstream%'`,
        )
        .pluck()
        .all();
      expect(names).toEqual(['tasks_upstream_known']);
      expect((await store.findByUpstreamId('pixverse', '312345678903'))?.id).toBe('task_01E');
    } finally {
      await store.close();
    }
  });
});
