import { describe, expect, it } from 'vitest';
import type { Operation } from '../../src/contracts/common.js';
import type { TaskRecord } from '../../src/domain/task-record.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import type { TaskStore } from '../../src/domain/task-store.js';

/** What GET /openai/v1/videos and DELETE rely on from the store: type filter, order, deletion. */
const record = (n: number, type: Operation, tenant = 'a'): TaskRecord => ({
  id: `task_01JD7Z6Q4N8K2V3W5X6Y7Z8A${String(n).padStart(2, '0')}`,
  tenant,
  type,
  model: 'modelslab/cogvideox',
  provider: 'modelslab',
  status: 'succeeded',
  progress: 1,
  outputs: [],
  error: null,
  upstreamId: null,
  upstreamStatus: null,
  metadata: {},
  createdAt: n,
  updatedAt: n,
  completedAt: n,
  credentialId: 'c',
  upstreamState: {},
  nextPollAt: null,
  pollAttempts: 0,
  lastContactAt: n,
  changeSeq: 0,
  changes: [],
  webhook: null,
  nextWebhookAt: null,
  version: 1,
});

const stores: [string, () => TaskStore][] = [
  ['memory', () => new MemoryTaskStore()],
  ['sqlite', () => new SqliteTaskStore(':memory:')],
];

describe.each(stores)('%s store: listing for /openai/v1/videos', (_name, make) => {
  it('filters by type, pages both ways, and never lists deleted tasks', async () => {
    const store = make();
    const types: Operation[] = [
      'text-to-video',
      'text-to-image',
      'image-to-video',
      'text-to-video',
    ];
    for (const [i, type] of types.entries()) await store.insert(record(10 + i, type));
    await store.insert(record(20, 'text-to-video', 'b'));
    const videos = ['text-to-video', 'image-to-video'] as const;
    const ids = async (q: Parameters<TaskStore['list']>[1]) =>
      (await store.list('a', q)).map((t) => t.id.slice(-2));

    expect(await ids({ limit: 10, types: videos })).toEqual(['13', '12', '10']);
    expect(await ids({ limit: 10, types: videos, order: 'asc' })).toEqual(['10', '12', '13']);
    expect(
      await ids({ limit: 1, types: videos, order: 'asc', cursor: record(10, 'text-to-video').id }),
    ).toEqual(['12']);
    expect(await ids({ limit: 10, types: videos, cursor: record(13, 'text-to-video').id })).toEqual(
      ['12', '10'],
    );
    expect(await ids({ limit: 10 })).toEqual(['13', '12', '11', '10']);

    const victim = (await store.get(record(12, 'image-to-video').id))!;
    expect(await store.update({ ...victim, deletedAt: 1, version: victim.version + 1 })).toBe(true);
    expect(await ids({ limit: 10, types: videos })).toEqual(['13', '10']);
    expect(await ids({ limit: 10 })).toEqual(['13', '11', '10']);
    // The row is still there for the operator.
    expect((await store.get(victim.id))?.deletedAt).toBe(1);
    await store.close();
  });
});
