import { describe, expect, it } from 'vitest';
import { taskFixture } from '../../src/domain/task-record.fixture.js';
import type { TaskRecord } from '../../src/domain/task-record.js';
import { loadConfig } from '../../src/config/load.js';
import { createTaskStore } from '../../src/store/index.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';

const running = (id: string) => taskFixture({ id, status: 'running', version: 1 });
const finish = (t: TaskRecord, over: Partial<TaskRecord> = {}): TaskRecord => ({
  ...t,
  status: 'succeeded',
  nextPollAt: null,
  version: t.version + 1,
  ...over,
});

describe('memory store bound', () => {
  it('drops the tasks that finished first beyond the cap, never one in progress', async () => {
    const store = new MemoryTaskStore({ maxFinishedTasks: 2, finishedRetentionMs: 3_600_000 });
    for (const id of ['task_a', 'task_b', 'task_c', 'task_d']) await store.insert(running(id));
    // Finished in the order c, a, b: c goes first once a third one finishes.
    for (const id of ['task_c', 'task_a', 'task_b']) {
      expect(await store.update(finish((await store.get(id))!))).toBe(true);
    }
    expect(await store.get('task_c')).toBeUndefined();
    expect(await store.get('task_a')).toMatchObject({ status: 'succeeded' });
    expect(await store.get('task_b')).toMatchObject({ status: 'succeeded' });
    expect(await store.get('task_d')).toMatchObject({ status: 'running' });
  });

  it('keeps a finished task while a webhook delivery is pending, then counts it', async () => {
    const store = new MemoryTaskStore({ maxFinishedTasks: 1, finishedRetentionMs: 3_600_000 });
    await store.insert(running('task_w'));
    await store.insert(running('task_x'));
    const w = finish((await store.get('task_w'))!, { nextWebhookAt: 1 });
    await store.update(w);
    await store.update(finish((await store.get('task_x'))!));
    expect(await store.get('task_w')).toMatchObject({ nextWebhookAt: 1 });
    // Delivered: now it is finished too, and the cap of one keeps the later one.
    await store.update({ ...w, nextWebhookAt: null, version: w.version + 1 });
    expect(await store.get('task_x')).toBeUndefined();
    expect(await store.get('task_w')).toMatchObject({ status: 'succeeded' });
  });

  it('drops finished tasks older than the retention', async () => {
    let now = 1_000_000;
    const store = new MemoryTaskStore(
      { maxFinishedTasks: 100, finishedRetentionMs: 60_000 },
      () => now,
    );
    await store.insert(finish(running('task_old'), { version: 1 }));
    now += 61_000;
    await store.insert(finish(running('task_new'), { version: 1 }));
    expect(await store.get('task_old')).toBeUndefined();
    expect(await store.get('task_new')).toMatchObject({ status: 'succeeded' });
  });

  it('is bounded by default through the configuration (STORE_URL=memory:)', async () => {
    const config = loadConfig({ STORE_URL: 'memory:', MEMORY_STORE_MAX_FINISHED_TASKS: '3' });
    expect(config.memoryStore).toEqual({ maxFinishedTasks: 3, finishedRetentionMs: 86_400_000 });
    expect(loadConfig({}).memoryStore.maxFinishedTasks).toBe(10_000);
    const store = createTaskStore('memory:', { memoryLimits: config.memoryStore });
    for (let i = 0; i < 10; i++) {
      await store.insert(finish(running(`task_${i}`), { version: 1 }));
    }
    const left = await store.list('t', { limit: 100, order: 'asc' });
    expect(left.map((t) => t.id)).toEqual(['task_7', 'task_8', 'task_9']);
  });
});
