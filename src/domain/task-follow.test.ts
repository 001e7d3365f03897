import { describe, expect, it, vi } from 'vitest';
import { MediaLinkSigner } from './media-links.js';
import { TaskEvents } from './task-events.js';
import { changesSince, TaskFollowers, type FollowUpdate } from './task-follow.js';
import type { TaskChange, TaskRecord } from './task-record.js';
import { FIXTURE_T0, taskFixture } from './task-record.fixture.js';

const T0 = FIXTURE_T0;

function task(changes: TaskChange[], over: Partial<TaskRecord> = {}): TaskRecord {
  const last = changes.at(-1);
  return taskFixture({
    type: 'text-to-image',
    status: last?.status ?? 'queued',
    progress: last?.progress ?? null,
    upstreamStatus: 'x',
    nextPollAt: null,
    pollAttempts: 0,
    version: 1,
    changeSeq: last?.seq ?? 0,
    changes,
    ...over,
  });
}

const history: TaskChange[] = [
  { seq: 1, at: T0 + 1000, status: 'queued', progress: null },
  { seq: 2, at: T0 + 2000, status: 'running', progress: 0.1 },
  { seq: 3, at: T0 + 3000, status: 'running', progress: 0.5 },
  { seq: 4, at: T0 + 4000, status: 'succeeded', progress: 1 },
];

describe('changesSince', () => {
  it('a first look (-1) is the current state alone, as a status change', () => {
    const changes = changesSince(task(history), -1);
    expect(changes.map((c) => [c.seq, c.kind, c.task.status])).toEqual([
      [4, 'task.status', 'succeeded'],
    ]);
  });

  it('a resume gets every later change, as of each change, status or progress', () => {
    const changes = changesSince(task(history), 1);
    expect(changes.map((c) => [c.seq, c.kind, c.task.status, c.task.progress])).toEqual([
      [2, 'task.status', 'running', 0.1],
      [3, 'task.progress', 'running', 0.5],
      [4, 'task.status', 'succeeded', 1],
    ]);
    // Earlier changes are never terminal and carry their own time.
    expect(changes[1]?.task).toMatchObject({
      completed_at: null,
      updated_at: new Date(T0 + 3000).toISOString(),
    });
  });

  it('nothing when the follower is up to date', () => {
    expect(changesSince(task(history), 4)).toEqual([]);
  });

  it('the current state when the kept history no longer reaches back', () => {
    const trimmed = task(history.slice(2));
    expect(changesSince(trimmed, 1).map((c) => c.seq)).toEqual([4]);
    expect(changesSince(trimmed, 2).map((c) => c.seq)).toEqual([3, 4]);
  });

  it('the same record and position give the same (shared) result', () => {
    const record = task(history);
    expect(changesSince(record, 1)).toBe(changesSince(record, 1));
  });

  it('followers with the same links to stored outputs share the result; other links do not', () => {
    const stored = { bytes: 1, sha256: 'x', contentType: 'image/png', storedAt: T0, expiresAt: T0 };
    const record = task(history, {
      outputs: [{ url: 'https://cdn/1.png', contentType: 'image/png', expiresAt: null, stored }],
    });
    const signer = new MediaLinkSigner(Buffer.alloc(32, 1), 86_400_000, () => T0);
    const here = changesSince(record, 1, signer.linksUnder('https://gw'));
    expect(changesSince(record, 1, signer.linksUnder('https://gw'))).toBe(here);
    const there = changesSince(record, 1, signer.linksUnder('https://other'));
    expect(there).not.toBe(here);
    expect(there.at(-1)?.task.outputs[0]?.url).toMatch(/^https:\/\/other\/media\//);
  });
});

describe('TaskFollowers', () => {
  /** A store of one task that the test rewrites, and the events that announce it. */
  function setup(initial: TaskRecord | undefined) {
    let current: TaskRecord | undefined = initial;
    let reads = 0;
    const events = new TaskEvents();
    const followers = new TaskFollowers(async () => {
      reads++;
      return current;
    }, events);
    return {
      followers,
      set(next: TaskRecord | undefined) {
        current = next;
        events.notify('task_1');
      },
      reads: () => reads,
    };
  }

  async function collect(updates: AsyncIterable<FollowUpdate>, into: FollowUpdate[]) {
    for await (const update of updates) into.push(update);
  }

  it('the final change of a finished task already seen: nothing more', () => {
    const { followers } = setup(task(history));
    const signal = new AbortController().signal;
    expect(followers.follow(task(history), 4, { signal, quietMs: 1000 })).toEqual({
      finished: true,
    });
  });

  it('tells the current state, then each change as it is written, and ends when terminal', async () => {
    const running = task(history.slice(0, 2));
    const s = setup(running);
    const follow = s.followers.follow(running, undefined, {
      signal: new AbortController().signal,
      quietMs: 10_000,
    });
    if (follow.finished) throw new Error('expected updates');
    const seen: FollowUpdate[] = [];
    const done = collect(follow.updates, seen);
    await vi.waitFor(() => expect(seen.length).toBe(1));
    s.set(task(history.slice(0, 3)));
    await vi.waitFor(() => expect(seen.length).toBe(2));
    s.set(task(history));
    await done;
    expect(seen.map((u) => u.changes.map((c) => c.seq))).toEqual([[2], [3], [4]]);
    expect(seen.every((u) => !u.quiet)).toBe(true);
  });

  it('says quiet after quietMs without anything told, and stops when the signal aborts', async () => {
    const running = task(history.slice(0, 2));
    const s = setup(running);
    const stop = new AbortController();
    const follow = s.followers.follow(running, 2, { signal: stop.signal, quietMs: 30 });
    if (follow.finished) throw new Error('expected updates');
    const seen: FollowUpdate[] = [];
    const done = collect(follow.updates, seen);
    await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(3));
    stop.abort();
    await done;
    // First the (empty) start, then quiet ticks without changes.
    expect(seen[0]).toEqual({ changes: [], quiet: false });
    expect(seen.slice(1).every((u) => u.quiet && u.changes.length === 0)).toBe(true);
    // Heartbeats read nothing: the one read is the first.
    expect(s.reads()).toBe(1);
  });

  it('ends without a word when the task is gone before the first read', async () => {
    const s = setup(undefined);
    const follow = s.followers.follow(task(history.slice(0, 2)), undefined, {
      signal: new AbortController().signal,
      quietMs: 1000,
    });
    if (follow.finished) throw new Error('expected updates');
    const seen: FollowUpdate[] = [];
    await collect(follow.updates, seen);
    expect(seen).toEqual([]);
    expect(s.reads()).toBe(1);
  });
});
