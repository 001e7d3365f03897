import { afterAll, describe, expect, it } from 'vitest';
import { KEY_A, KEY_B, auth } from '../helpers/test-app.js';
import { openSse, sleep, startEngine, until, type Engine, type Json } from './harness.js';

/**
 * GET /v1/tasks/{id}/events over a real loopback socket, against the Haiper emulator:
 * PENDING ×3 → IN_PROGRESS with rising progress ×4 → SUCCESS, one poll every 100 ms.
 */

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines.splice(0)) await e.close();
});

async function engine(opts: Parameters<typeof startEngine>[0] = {}): Promise<Engine> {
  const e = await startEngine({
    listen: true,
    emulator: { pollsPending: 3, pollsInProgress: 4 },
    env: { POLL_INTERVAL_MS: '100', POLL_MAX_INTERVAL_MS: '100', ...opts.env },
    ...opts,
  });
  engines.push(e);
  return e;
}

const ORDER = ['queued', 'running', 'succeeded'];
const dataOf = (e: { data: string }) => JSON.parse(e.data) as Json;

/** Ids strictly increasing by one, statuses never going back, progress never falling. */
function expectInOrder(events: { id: string | undefined; data: string }[]) {
  const ids = events.map((e) => Number(e.id));
  for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe(ids[i - 1]! + 1);
  const tasks = events.map(dataOf);
  for (let i = 1; i < tasks.length; i++) {
    const [a, b] = [tasks[i - 1]!, tasks[i]!];
    expect(ORDER.indexOf(b.status as string)).toBeGreaterThanOrEqual(
      ORDER.indexOf(a.status as string),
    );
    if (a.status === b.status) {
      expect((b.progress as number | null) ?? -1).toBeGreaterThan(
        (a.progress as number | null) ?? -1,
      );
    }
  }
}

describe.concurrent('GET /v1/tasks/{id}/events', () => {
  it('streams every change in order and ends after the terminal status', async () => {
    const e = await engine();
    const created = await e.create();
    const stream = await openSse(`${e.url}/v1/tasks/${created.id as string}/events`, auth());
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers['cache-control']).toBe('no-cache');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    await stream.ended;

    const events = stream.events();
    expectInOrder(events);
    // Connected while queued: the current state first, then every change after it.
    const tasks = events.map(dataOf);
    expect(tasks[0]).toMatchObject({ id: created.id, status: 'queued' });
    expect(events[0]!.event).toBe('task.status');
    const running = events.filter((ev) => dataOf(ev).status === 'running');
    expect(running.map((ev) => dataOf(ev).progress)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(running.map((ev) => ev.event)).toEqual([
      'task.status',
      'task.progress',
      'task.progress',
      'task.progress',
    ]);
    const last = events[events.length - 1]!;
    expect(last.event).toBe('task.status');
    expect(dataOf(last)).toMatchObject({ status: 'succeeded', progress: 1 });
    expect((dataOf(last).outputs as unknown[]).length).toBe(1);
    // The last id is the task's latest change: nothing was skipped.
    const final = await e.get(created.id as string);
    expect(final.body.status).toBe('succeeded');
    expect(stream.items.some((i) => i.kind === 'retry')).toBe(true);
  });

  it('resumes after a reconnect with Last-Event-ID: no duplicates, no gaps, ends at terminal', async () => {
    const e = await engine();
    const created = await e.create();
    const url = `${e.url}/v1/tasks/${created.id as string}/events`;
    const first = await openSse(url, auth());
    // Up to the first running change, then the connection drops.
    await until(
      () => first.events().some((ev) => dataOf(ev).status === 'running'),
      'condition',
      10_000,
    );
    first.abort();
    const seen = first.events();
    const lastId = seen[seen.length - 1]!.id!;
    // Changes happen while nobody is connected.
    await sleep(250);

    const second = await openSse(url, { ...auth(), 'last-event-id': lastId });
    await second.ended;
    const resumed = second.events();
    expect(Number(resumed[0]!.id)).toBe(Number(lastId) + 1);
    const all = [...seen, ...resumed];
    expectInOrder(all);
    expect(new Set(all.map((ev) => ev.id)).size).toBe(all.length);
    expect(dataOf(all[all.length - 1]!).status).toBe('succeeded');
    expect(all.filter((ev) => dataOf(ev).status === 'running').length).toBe(4);

    // The same with ?last_event_id= (clients that cannot set the header).
    const third = await openSse(`${url}?last_event_id=${lastId}`, auth());
    await third.ended;
    expect(third.events().map((ev) => ev.id)).toEqual(resumed.map((ev) => ev.id));

    // Already at the final event: 204, nothing more will come.
    const done = await openSse(url, { ...auth(), 'last-event-id': all[all.length - 1]!.id! });
    expect(done.status).toBe(204);
  });

  it('sends the current state when the history no longer reaches back to Last-Event-ID', async () => {
    const e = await engine({
      emulator: { pollsPending: 0, pollsInProgress: 60 },
      env: { POLL_INTERVAL_MS: '10', POLL_MAX_INTERVAL_MS: '10' },
    });
    const created = await e.create();
    await until(() => e.polls(upstreamOf(created)).length >= 61, 'condition', 15_000);
    // The emulator records the last poll when it arrives; genway writes its answer just after.
    let task = await e.get(created.id as string);
    for (let i = 0; i < 100 && task.body.status !== 'succeeded'; i++) {
      await sleep(20);
      task = await e.get(created.id as string);
    }
    expect(task.body.status).toBe('succeeded');
    const stream = await openSse(`${e.url}/v1/tasks/${created.id as string}/events`, {
      ...auth(),
      'last-event-id': '1',
    });
    await stream.ended;
    const events = stream.events();
    expect(events).toHaveLength(1);
    expect(Number(events[0]!.id)).toBeGreaterThan(51);
    expect(dataOf(events[0]!)).toMatchObject({ status: 'succeeded' });
  });

  it('sends `: ping` heartbeats while nothing changes', async () => {
    const e = await engine({ env: { SSE_HEARTBEAT_MS: '100' } });
    e.emu.scriptNext('stuck-pending');
    const created = await e.create();
    const stream = await openSse(`${e.url}/v1/tasks/${created.id as string}/events`, auth());
    await sleep(1000);
    stream.abort();
    const pings = stream.items.filter((i) => i.kind === 'comment' && i.text === 'ping');
    expect(pings.length).toBeGreaterThanOrEqual(3);
    expect(pings.length).toBeLessThanOrEqual(11);
    // About one per 100 ms of silence, never a burst.
    for (let i = 1; i < pings.length; i++) {
      expect(pings[i]!.at - pings[i - 1]!.at).toBeGreaterThanOrEqual(50);
    }
    // queued (progress null), then queued with progress 0 after the first poll; no more.
    expect(stream.events().length).toBeLessThanOrEqual(2);
  });

  it('is a 404 problem for another tenant or an unknown task, and 401 without a key', async () => {
    const e = await engine();
    const created = await e.create(KEY_A);
    const url = `${e.url}/v1/tasks/${created.id as string}/events`;
    for (const [headers, status] of [
      [auth(KEY_B), 404],
      [{}, 401],
    ] as const) {
      const res = await fetch(url, { headers });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await res.json()) as Json;
      expect(problem.status).toBe(status);
      expect(JSON.stringify(problem)).not.toContain('lighthouse');
    }
    const unknown = await fetch(`${e.url}/v1/tasks/task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B/events`, {
      headers: auth(),
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as Json).code).toBe('task_not_found');
  });

  it('an open stream does not hold up closing the app', async () => {
    const e = await startEngine({ listen: true, emulator: { pollsPending: 1000 } });
    const created = await e.create();
    const stream = await openSse(`${e.url}/v1/tasks/${created.id as string}/events`, auth());
    await stream.waitForEvents(1);
    const started = Date.now();
    await e.close();
    await stream.ended;
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('costs one waiter per stream, released when the client leaves', async () => {
    const e = await engine();
    e.emu.scriptNext('stuck-pending');
    const created = await e.create();
    const id = created.id as string;
    const streams = await Promise.all(
      Array.from({ length: 20 }, () => openSse(`${e.url}/v1/tasks/${id}/events`, auth())),
    );
    await Promise.all(streams.map((s) => s.waitForEvents(1)));
    const events = (e.t.app as unknown as { tasks: { deps: { events: Waiting } } }).tasks.deps
      .events;
    expect(events.waiting(id)).toBe(20);
    for (const s of streams) s.abort();
    await until(() => events.waiting(id) === 0, 'waiters released', 5000);
  });
});

interface Waiting {
  waiting(id: string): number;
}

const upstreamOf = (task: Json) => (task.upstream as Json).id as string;
