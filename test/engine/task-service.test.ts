import { describe, expect, it } from 'vitest';
import { CredentialPool } from '../../src/domain/credential-pool.js';
import { createDueSignals } from '../../src/domain/due-signal.js';
import { ModelRegistry } from '../../src/domain/models.js';
import type {
  CallbackTarget,
  PollCall,
  UpstreamCallbacks,
  UpstreamSnapshot,
} from '../../src/domain/ports.js';
import type { ChangeFeed, ChangeListener } from '../../src/domain/change-feed.js';
import { TaskEvents } from '../../src/domain/task-events.js';
import { TaskService, type TaskServiceDeps } from '../../src/domain/task-service.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { FakeAdapter, type FakeAdapterOptions } from '../helpers/fake-provider.js';

/**
 * The task core on its own: TaskService with the memory store, a fake adapter, a clock set by
 * the test and a fixed random source, without HTTP, the poller or the config.
 */

const NOW = Date.UTC(2026, 0, 1);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** The fake adapter, whose polls answer what the test scripts (running by default). */
class ScriptedAdapter extends FakeAdapter {
  readonly polls: PollCall[] = [];
  next: UpstreamSnapshot | Error | undefined;
  callbacks?: UpstreamCallbacks;

  override async poll(call: PollCall): Promise<UpstreamSnapshot> {
    this.polls.push(call);
    if (this.next instanceof Error) throw this.next;
    return this.next ?? super.poll(call);
  }
}

function setup(
  options: FakeAdapterOptions = {},
  extra: Partial<TaskServiceDeps> & { credentials?: number } = {},
) {
  const store = new MemoryTaskStore();
  const adapter = new ScriptedAdapter(options);
  const credentials = Array.from({ length: extra.credentials ?? 1 }, (_, i) => ({
    id: `fake-${i + 1}`,
    secret: `fake-secret-${i + 1}`,
  }));
  const pool = new CredentialPool('fake', credentials, 'first', { logger: silent });
  const due = createDueSignals();
  const pollsDue: number[] = [];
  due.polls.listen((at) => pollsDue.push(at));
  const events = new TaskEvents();
  const clock = { now: NOW };
  const tasks = new TaskService({
    store,
    models: new ModelRegistry(new Map([['fake', { adapter, emulated: true }]]), {}),
    pools: new Map([['fake', pool]]),
    events,
    polling: { intervalMs: 2000, maxIntervalMs: 30_000, unreachableDeadlineMs: 60_000 },
    logger: silent,
    now: () => clock.now,
    random: () => 0.5,
    due,
    ...extra,
  });
  return { store, adapter, pool, tasks, events, pollsDue, clock };
}

const running = (progress?: number): UpstreamSnapshot => ({
  upstreamId: 'up_1',
  upstreamStatus: 'processing',
  status: 'running',
  ...(progress !== undefined ? { progress } : {}),
});

describe('TaskService without HTTP', () => {
  it('creates, schedules the first poll exactly, polls to success and frees the slot', async () => {
    const s = setup({ onStart: () => running() });
    const created = await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'a cat' });
    expect(created).toMatchObject({
      status: 'running',
      upstreamId: 'up_1',
      credentialId: 'fake-1',
    });
    // Interval 2 s, no jitter with random 0.5; the poller was told.
    expect(created.nextPollAt).toBe(NOW + 2000);
    expect(s.pollsDue).toEqual([NOW + 2000]);
    expect(s.pool.inFlightOf('fake-1')).toBe(1);

    const outputs = [
      { url: 'https://cdn.example/1.png', contentType: 'image/png', expiresAt: null },
    ];
    s.adapter.next = { ...running(), status: 'succeeded', upstreamStatus: 'done', outputs };
    const changed = s.tasks.waitForChange('me', created.id, 5000);
    s.clock.now = NOW + 2000;
    await s.tasks.poll(created);
    // One poll call, built from the task: the upstream model name, its job, its state.
    expect(s.adapter.polls).toEqual([
      {
        operation: 'text-to-image',
        model: 'm1',
        credential: { id: 'fake-1', secret: 'fake-secret-1' },
        upstreamId: 'up_1',
        state: {},
      },
    ]);
    const done = await changed;
    expect(done).toMatchObject({
      status: 'succeeded',
      outputs,
      completedAt: NOW + 2000,
      nextPollAt: null,
    });
    expect(done.changes.map((c) => c.status)).toEqual(['running', 'succeeded']);
    expect(s.pool.inFlightOf('fake-1')).toBe(0);
  });

  it("another tenant's task is not found, for reads and for following", async () => {
    const s = setup();
    const task = await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'x' });
    const signal = new AbortController().signal;
    await expect(s.tasks.get('other', task.id)).rejects.toMatchObject({ code: 'task_not_found' });
    await expect(
      s.tasks.follow('other', task.id, undefined, { signal, quietMs: 1000 }),
    ).rejects.toMatchObject({ code: 'task_not_found' });
    // Its own finished task, its last change already seen: nothing more to follow.
    const follow = await s.tasks.follow('me', task.id, task.changeSeq, { signal, quietMs: 1000 });
    expect(follow).toEqual({ finished: true });
  });

  it('a transient poll failure backs off; past the deadline the task is given up', async () => {
    const s = setup({ onStart: () => running() });
    const task = await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'x' });
    s.adapter.next = new GatewayError('upstream_unavailable', 'down', { retryable: true });
    await s.tasks.poll(task);
    const retried = await s.tasks.get('me', task.id);
    expect(retried).toMatchObject({ status: 'running', pollAttempts: 1, nextPollAt: NOW + 2000 });

    // Unreachable since the last answer for longer than the deadline: given up.
    await s.store.update({ ...retried, lastContactAt: NOW - 60_001, version: retried.version + 1 });
    await s.tasks.poll(await s.tasks.get('me', task.id));
    expect(await s.tasks.get('me', task.id)).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_timeout' },
      nextPollAt: null,
    });
  });

  it('a create that provably sent nothing moves to the next credential', async () => {
    let starts = 0;
    const s = setup(
      {
        onStart: () => {
          if (++starts === 1) {
            throw new GatewayError('upstream_unavailable', 'refused', { requestSent: false });
          }
          return running();
        },
      },
      { credentials: 2 },
    );
    const task = await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'x' });
    expect(task).toMatchObject({ status: 'running', credentialId: 'fake-2' });
    expect(s.adapter.starts.map((c) => c.credential.id)).toEqual(['fake-1', 'fake-2']);
  });

  it("asks for a callback at the app's URL for the provider and task", async () => {
    const targets: CallbackTarget[] = [];
    const s = setup(
      { onStart: () => running() },
      { callbackUrl: (provider, taskId) => `https://gw.example/cb/${provider}/${taskId}` },
    );
    s.adapter.callbacks = {
      routing: 'task',
      prepare: (target) => {
        targets.push(target);
        return { fields: { hook: target.url }, state: { tokenHash: 'h' } };
      },
      verify: () => {
        throw new Error('not used');
      },
    };
    const task = await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'x' });
    expect(targets).toEqual([
      { taskId: task.id, operation: 'text-to-image', url: `https://gw.example/cb/fake/${task.id}` },
    ]);
    expect(s.adapter.starts[0]?.callbackFields).toEqual({ hook: targets[0]?.url });
    expect(task.upstreamState).toEqual({ callback: { tokenHash: 'h' } });
  });

  it('without a callback URL, adapters are never asked for callbacks', async () => {
    const s = setup({ onStart: () => running() });
    let asked = false;
    s.adapter.callbacks = {
      routing: 'task',
      prepare: () => {
        asked = true;
        return undefined;
      },
      verify: () => {
        throw new Error('not used');
      },
    };
    await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'x' });
    expect(asked).toBe(false);
    expect(s.adapter.starts[0]?.callbackFields).toBeUndefined();
  });
});

describe('TaskService in a cluster: waits and claims', () => {
  it('a change written between the read and the wait still wakes the waiter', async () => {
    const s = setup({ onStart: () => running() });
    const created = await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'x' });
    s.adapter.next = { ...running(), status: 'succeeded', upstreamStatus: 'done', outputs: [] };
    const get = s.store.get.bind(s.store);
    let armed = true;
    // The waiter's read returns the running task; the poll's write lands right after it.
    s.store.get = async (id) => {
      const record = await get(id);
      if (armed) {
        armed = false;
        await s.tasks.poll(created);
      }
      return record;
    };
    const began = Date.now();
    const done = await s.tasks.waitUntilFinished('me', created.id, 3000);
    expect(done.status).toBe('succeeded');
    expect(Date.now() - began).toBeLessThan(1000);
  });

  it('waits on a lossy feed re-read at its interval, and all wake when messages were missed', async () => {
    const listeners: ChangeListener[] = [];
    const lossy: ChangeFeed = {
      rereadMs: 50,
      publish: () => {}, // every message lost
      subscribe: (l) => void listeners.push(l),
      close: async () => {},
    };
    const s = setup({ onStart: () => running() }, { events: new TaskEvents(lossy) });
    const created = await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'x' });
    s.adapter.next = { ...running(), status: 'succeeded', upstreamStatus: 'done', outputs: [] };
    const began = Date.now();
    const waiting = s.tasks.waitUntilFinished('me', created.id, 3000);
    await s.tasks.poll(created);
    expect((await waiting).status).toBe('succeeded');
    expect(Date.now() - began).toBeLessThan(1000);

    const events = new TaskEvents(lossy);
    const woken = events.next('t1', 60_000);
    expect(events.waiting('t1')).toBe(1);
    for (const l of listeners) l.missed();
    await woken;
    expect(events.waiting('t1')).toBe(0);
  });

  it('a claim handed back on shutdown is due again at once', async () => {
    const s = setup({ onStart: () => running() });
    const created = await s.tasks.create('me', 'text-to-image', { model: 'fake', prompt: 'x' });
    s.clock.now = NOW + 2000;
    const [claimed] = await s.store.claimDue(s.clock.now, 10, 60_000);
    expect(claimed?.nextPollAt).toBe(NOW + 62_000);
    s.clock.now = NOW + 2100;
    await s.tasks.releaseClaim(claimed!);
    const after = await s.store.get(created.id);
    expect(after?.nextPollAt).toBe(NOW + 2100);
    expect(s.adapter.polls).toEqual([]);
    expect(await s.store.claimDue(NOW + 2100, 10, 60_000)).toHaveLength(1);
  });
});
