import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { taskFixture } from '../../src/domain/task-record.fixture.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'genway-group-commit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const task = (id: string) => taskFixture({ id, version: 1 });

describe('SQLite group commit', () => {
  it('settles a write only once it is committed: another connection sees it by then', async () => {
    const path = join(dir, 'visible.db');
    const writer = new SqliteTaskStore(path);
    const reader = new SqliteTaskStore(path);
    const writes = ['task_1', 'task_2', 'task_3'].map((id) => writer.insert(task(id)));
    // Same turn: the group is still open, nothing is committed for another connection.
    expect(await reader.get('task_1')).toBeUndefined();
    await Promise.all(writes);
    for (const id of ['task_1', 'task_2', 'task_3']) {
      expect(await reader.get(id)).toMatchObject({ id });
    }
    await reader.close();
    await writer.close();
  });

  it('a failing write rejects alone; the rest of its group commits', async () => {
    const path = join(dir, 'failing.db');
    const store = new SqliteTaskStore(path);
    await store.insert(task('task_dup'));
    const [dup, fresh, cas] = await Promise.allSettled([
      store.insert(task('task_dup')),
      store.insert(task('task_fresh')),
      store.update({ ...task('task_dup'), version: 2, status: 'succeeded' }),
    ]);
    expect(dup.status).toBe('rejected');
    expect(fresh.status).toBe('fulfilled');
    expect(cas).toEqual({ status: 'fulfilled', value: true });
    await store.close();
    const again = new SqliteTaskStore(path);
    expect(await again.get('task_fresh')).toMatchObject({ id: 'task_fresh' });
    expect(await again.get('task_dup')).toMatchObject({ status: 'succeeded', version: 2 });
    await again.close();
  });

  it('a finishing update carries its settlement: both or, when the compare-and-set loses, neither', async () => {
    const path = join(dir, 'settle.db');
    const store = new SqliteTaskStore(path);
    const reader = new SqliteTaskStore(path);
    await store.insert(task('task_won'));
    await store.insert(task('task_lost'));
    const entry = (taskId: string) => ({
      taskId,
      tenant: 't',
      keyId: null,
      provider: 'up',
      model: 'up/m1',
      operation: 'text-to-video' as const,
      status: 'succeeded' as const,
      chargedMicros: 1500,
      at: 1000,
    });
    const finished = (id: string, version: number) =>
      ({ ...task(id), version, status: 'succeeded' }) as const;
    const won = store.updateAndSettle(finished('task_won', 2), entry('task_won'));
    // One group: neither the task nor its ledger entry is visible before the commit.
    expect(await reader.admin.ledger({ from: 0, to: 2000 })).toEqual([]);
    expect(await won).toEqual({ updated: true, settled: true });
    expect(await reader.get('task_won')).toMatchObject({ status: 'succeeded', version: 2 });
    expect(await reader.admin.ledger({ from: 0, to: 2000 })).toEqual([entry('task_won')]);
    // Settled already: the write stands, the entry is not written twice.
    const again = await store.updateAndSettle(finished('task_won', 3), entry('task_won'));
    expect(again).toEqual({ updated: true, settled: false });
    // A stale version: nothing written, nothing settled.
    const lost = await store.updateAndSettle(finished('task_lost', 5), entry('task_lost'));
    expect(lost).toEqual({ updated: false });
    expect(await reader.admin.ledger({ from: 0, to: 2000 })).toHaveLength(1);
    await reader.close();
    await store.close();
  });
});
