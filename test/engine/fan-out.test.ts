import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CredentialPool } from '../../src/domain/credential-pool.js';
import { createDueSignals } from '../../src/domain/due-signal.js';
import { ModelRegistry } from '../../src/domain/models.js';
import type { PollCall, UpstreamSnapshot } from '../../src/domain/ports.js';
import { TaskEvents } from '../../src/domain/task-events.js';
import type { FollowUpdate } from '../../src/domain/task-follow.js';
import { TaskService } from '../../src/domain/task-service.js';
import type { TaskStore } from '../../src/domain/task-store.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { RedisTaskStore } from '../../src/store/redis-store.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import { FakeAdapter } from '../helpers/fake-provider.js';
import { REDIS_URL, deleteKeys, testKeyPrefix } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

/**
 * Fan-out: a change of a task wakes every long-poll (`?wait=`, `Prefer: wait`) and every
 * follower (SSE) waiting on it, and they share one store read instead of one read each. Reads
 * are counted by wrapping the store's `get` (real stores, real change feeds).
 */

const dir = mkdtempSync(join(tmpdir(), 'genway-fan-out-'));
const prefix = testKeyPrefix('fan-out');
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deleteKeys(prefix);
});

const NOW = Date.UTC(2026, 0, 1);
const WAITERS = 50;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

class ScriptedAdapter extends FakeAdapter {
  next: UpstreamSnapshot | undefined;
  override async poll(call: PollCall): Promise<UpstreamSnapshot> {
    return this.next ?? super.poll(call);
  }
}

const running = (progress: number | null): UpstreamSnapshot => ({
  upstreamId: 'up_1',
  upstreamStatus: 'processing',
  status: 'running',
  progress,
});

/** TaskService on `store` whose reads are counted, with the change feed the store comes with. */
function setup(store: TaskStore, events: TaskEvents) {
  const counted = { reads: 0 };
  const get = store.get.bind(store);
  store.get = async (id) => {
    counted.reads++;
    return get(id);
  };
  const adapter = new ScriptedAdapter({ onStart: () => running(null) });
  const pool = new CredentialPool('fake', [{ id: 'fake-1', secret: 'fake-secret-1' }], 'first', {
    logger: silent,
  });
  const clock = { now: NOW };
  const tasks = new TaskService({
    store,
    models: new ModelRegistry(new Map([['fake', { adapter, emulated: true }]]), {}),
    pools: new Map([['fake', pool]]),
    events,
    polling: { intervalMs: 60_000, maxIntervalMs: 60_000, unreachableDeadlineMs: 600_000 },
    logger: silent,
    now: () => clock.now,
    random: () => 0.5,
    due: createDueSignals(),
  });
  return { tasks, adapter, clock, counted };
}

type Setup = ReturnType<typeof setup>;

/** WAITERS long-polls and WAITERS followers on one running task, all registered. */
async function waitersOn(s: Setup) {
  const created = await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'x' });
  const stop = new AbortController();
  const polls = Array.from({ length: WAITERS }, () =>
    s.tasks.waitForChange('me', created.id, 20_000, stop.signal),
  );
  const told: FollowUpdate[][] = [];
  const follows = await Promise.all(
    Array.from({ length: WAITERS }, () =>
      s.tasks.follow('me', created.id, undefined, { signal: stop.signal, quietMs: 60_000 }),
    ),
  );
  const streams = follows.map(async (follow, i) => {
    const updates: FollowUpdate[] = (told[i] = []);
    if (follow.finished) throw new Error('a running task cannot be finished');
    for await (const update of follow.updates) updates.push(update);
  });
  await until(() => s.tasks.waiting(created.id) === 2 * WAITERS, 'every waiter registered');
  return { created, polls, told, streams, stop };
}

describe.each([
  ['memory', () => ({ store: new MemoryTaskStore() as TaskStore, close: async () => {} })],
  [
    'sqlite',
    () => {
      const store = new SqliteTaskStore(join(dir, 'fan-out.db'));
      return { store: store as TaskStore, close: () => store.close() };
    },
  ],
  [
    'redis',
    () => {
      const store = new RedisTaskStore(REDIS_URL, { keyPrefix: `${prefix}one:` });
      return { store: store as TaskStore, close: () => store.close() };
    },
  ],
])('fan-out with the %s store', (name, open) => {
  it(`${WAITERS} long-polls and ${WAITERS} followers of one task read it at most twice per change`, async () => {
    const { store, close } = open();
    // Redis: its own pub/sub feed, with a re-read interval longer than the test.
    const coordination =
      store instanceof RedisTaskStore ? store.coordination({ rereadMs: 600_000 }) : undefined;
    const events = new TaskEvents(coordination?.feed);
    try {
      const s = setup(store, events);
      const { created, polls, told, streams, stop } = await waitersOn(s);
      s.counted.reads = 0;
      s.adapter.next = running(0.5);
      s.clock.now = NOW + 1000;
      await s.tasks.poll(created);
      const answers = await Promise.all(polls);
      for (const task of answers) expect(task.progress).toBe(0.5);
      await until(
        () => told.every((updates) => updates.some((u) => u.changes.at(-1)?.task.progress === 0.5)),
        'every follower told the change',
      );
      expect(s.counted.reads, `${name}: reads for one change`).toBeLessThanOrEqual(2);
      stop.abort();
      await Promise.all(streams);
    } finally {
      await coordination?.close();
      await close();
    }
  });
});

describe('fan-out over a lossy feed (Redis)', () => {
  it('the re-read safety net wakes the waiters of a task together: one read per tick, not per waiter', async () => {
    const store = new RedisTaskStore(REDIS_URL, { keyPrefix: `${prefix}lossy:` });
    const rereadMs = 50;
    const coordination = store.coordination({ rereadMs });
    try {
      const s = setup(store, new TaskEvents(coordination.feed));
      const { polls, streams, stop } = await waitersOn(s);
      s.counted.reads = 0;
      const began = Date.now();
      await new Promise((r) => setTimeout(r, 10 * rereadMs));
      const reads = s.counted.reads;
      const ticks = Math.ceil((Date.now() - began) / rereadMs) + 1;
      // Per waiter it would be 2 × WAITERS reads per tick.
      expect(reads).toBeLessThanOrEqual(ticks);
      stop.abort();
      await Promise.all([...polls, ...streams]);
    } finally {
      await coordination.close();
      await store.close();
    }
  });
});
