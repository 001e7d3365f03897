import { afterAll, describe, expect, it } from 'vitest';
import { PollBudget } from '../../src/domain/poll-budget.js';
import type { Operation } from '../../src/contracts/common.js';
import type { PollCall, UpstreamSnapshot } from '../../src/domain/ports.js';
import { FakeAdapter, buildFakeApp, type FakeApp } from '../helpers/fake-provider.js';
import { auth } from '../helpers/test-app.js';
import { sleep, startEngine, until, upstreamIdOf, type Engine, type Json } from './harness.js';

/**
 * The poll schedule: base interval per provider and operation, the poll budget per upstream
 * credential, transient failures retried with backoff, and the unreachable deadline.
 */

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function engine(opts: Parameters<typeof startEngine>[0] = {}): Promise<Engine> {
  const e = await startEngine(opts);
  closers.push(() => e.close());
  return e;
}

/** Most events in any window [t, t + windowMs) of the sorted times. */
function busiestWindow(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('PollBudget (simulated clock)', () => {
  it('never lets more than `rate` polls start in any second, and drains a burst in order', () => {
    const budget = new PollBudget(() => 5);
    const due = new Map<string, number>();
    for (let i = 0; i < 20; i++) due.set(`task_${i}`, 0);
    const starts: { id: string; at: number }[] = [];
    for (let now = 0; now <= 6000; now++) {
      for (const [id, at] of [...due].sort((a, b) => a[1] - b[1])) {
        if (at > now) continue;
        const wait = budget.admit('haiper', 'haiper-1', id, now);
        if (wait === 0) {
          starts.push({ id, at: now });
          due.set(id, now + 20); // the task's own interval: far below the budget
        } else {
          due.set(id, now + wait);
        }
      }
    }
    expect(busiestWindow(starts.map((s) => s.at))).toBeLessThanOrEqual(5);
    // Not dropped: all 20 polled within ~4 s, first come first served, then round robin.
    const firstPoll = [...new Set(starts.map((s) => s.id))];
    expect(firstPoll).toEqual(Array.from({ length: 20 }, (_, i) => `task_${i}`));
    const allPolledBy = starts.find((s) => s.id === 'task_19')!.at;
    expect(allPolledBy).toBeLessThan(4200);
    // And the budget is used: close to 5 polls per second over the 6 s.
    expect(starts.length).toBeGreaterThanOrEqual(28);
  });

  it('is per credential, and unlimited for a rate of Infinity', () => {
    const budget = new PollBudget((_p, credential) => (credential === 'slow' ? 1 : Infinity));
    expect(budget.admit('p', 'slow', 'a', 0)).toBe(0);
    const waitB = budget.admit('p', 'slow', 'b', 0);
    expect(waitB).toBeGreaterThanOrEqual(1000);
    for (let i = 0; i < 100; i++) expect(budget.admit('p', 'fast', `t${i}`, 0)).toBe(0);
    // Booked tasks come back at their slots, one second apart, and go at once.
    const waitC = budget.admit('p', 'slow', 'c', 10);
    expect(waitC + 10).toBeGreaterThanOrEqual(waitB + 1000);
    expect(budget.admit('p', 'slow', 'b', waitB - 5)).toBe(5);
    expect(budget.admit('p', 'slow', 'b', waitB)).toBe(0);
    expect(budget.admit('p', 'slow', 'c', 10 + waitC)).toBe(0);
  });
});

describe('poll schedule through the app', () => {
  it('keeps N tasks on one credential within its budget of polls per second', async () => {
    const budget = 4;
    const e = await engine({ pollsPerSecond: budget });
    const tasks: Json[] = [];
    for (let i = 0; i < 12; i++) {
      e.emu.scriptNext('stuck-pending');
      tasks.push(await e.create());
    }
    const started = Date.now();
    // 12 tasks wanting a poll every 20 ms, 4 polls/s allowed: each polled within ~3 s.
    await until(
      () => tasks.every((t) => e.polls(upstreamIdOf(t)).length >= 1),
      'every task polled',
      8000,
    );
    const allPolled = Date.now() - started;
    await sleep(Math.max(0, 3500 - allPolled));
    const polls = e.emu.calls.filter((c) => c.method === 'GET' && c.path.includes('/tasks/'));
    expect(busiestWindow(polls.map((c) => c.at))).toBeLessThanOrEqual(budget);
    expect(allPolled).toBeLessThan(4500);
    // Pushed back, not dropped: still queued, polled over and over, about `budget` per second.
    expect(polls.length).toBeGreaterThanOrEqual(10);
    for (const t of tasks) expect((await e.get(t.id as string)).body.status).toBe('queued');
  });

  it('retries a poll that fails transiently with growing gaps, then completes', async () => {
    const e = await engine({ emulator: { pollsPending: 1, pollsInProgress: 1 } });
    const created = await e.create();
    e.emu.failNext({ kind: 'http5xx', status: 503 }, 5);
    await until(() => e.polls(upstreamIdOf(created)).length >= 8, 'eight polls', 10_000);
    // The emulator records the eighth poll when it arrives; genway writes its answer just after.
    let task = await e.get(created.id as string);
    for (let i = 0; i < 100 && task.body.status !== 'succeeded'; i++) {
      await sleep(20);
      task = await e.get(created.id as string);
    }
    expect(task.body.status).toBe('succeeded');
    const at = e.polls(upstreamIdOf(created)).map((c) => c.at);
    const gaps = at.slice(1, 5).map((t, i) => t - at[i]!);
    // Backoff: each retry waits about as long as the upstream has been failing (it doubles).
    expect(gaps[3]!).toBeGreaterThan(gaps[0]! * 2);
  });

  it('fails a task whose upstream stays unreachable past the deadline with upstream_timeout', async () => {
    const e = await engine({
      env: { UPSTREAM_UNREACHABLE_DEADLINE_MS: '1000', POLL_MAX_INTERVAL_MS: '500' },
    });
    e.emu.scriptNext('stuck-pending');
    const created = await e.create();
    const id = created.id as string;
    await until(() => e.polls(upstreamIdOf(created)).length > 0, 'condition', 5000);
    await e.emu.close();
    const closedAt = Date.now();
    const res = await e.t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${id}?wait=10`,
      headers: auth(),
    });
    let task = res.json<Json>();
    while (task.status === 'queued' && Date.now() - closedAt < 5000) {
      task = (await e.get(id, '?wait=2')).body;
    }
    const after = Date.now() - closedAt;
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'upstream_timeout' });
    const message = (task.error as Json).message as string;
    expect(message).toMatch(
      /^haiper could not be reached for [\d.]+ s \(limit 1 s, UPSTREAM_UNREACHABLE_DEADLINE_MS\)/,
    );
    expect(message).toContain('unreachable');
    expect(after).toBeGreaterThanOrEqual(900);
    expect(after).toBeLessThan(2500);
  });
});

/** A fake provider that is always running, with its own interval, recording poll times. */
class TimedAdapter extends FakeAdapter {
  readonly pollTimes: number[] = [];
  constructor(private readonly ownIntervalMs: number) {
    super({
      onStart: () => ({ upstreamId: 'up_timed', upstreamStatus: 'running', status: 'running' }),
    });
  }
  pollIntervalMs(_operation: Operation): number {
    return this.ownIntervalMs;
  }
  override async poll(call: PollCall): Promise<UpstreamSnapshot> {
    this.pollTimes.push(Date.now());
    return super.poll(call);
  }
}

describe('base poll interval', () => {
  const medianGap = (times: number[]) => {
    const gaps = times
      .slice(1)
      .map((t, i) => t - times[i]!)
      .sort((a, b) => a - b);
    return gaps[Math.floor(gaps.length / 2)]!;
  };

  async function run(env: Record<string, string>): Promise<number> {
    const adapter = new TimedAdapter(150);
    const fake: FakeApp = await buildFakeApp(adapter, { env, poller: true });
    closers.push(() => fake.close());
    const res = await fake.app.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: auth(),
      payload: { model: 'fake/m1', prompt: 'x' },
    });
    expect(res.statusCode).toBe(201);
    await until(() => adapter.pollTimes.length >= 6, 'condition', 10_000);
    return medianGap(adapter.pollTimes);
  }

  it("is the adapter's own interval for the operation when POLL_INTERVAL_MS is not set", async () => {
    const gap = await run({ POLL_MAX_INTERVAL_MS: '2000', POLL_BUDGET_PER_SECOND: '1000' });
    expect(gap).toBeGreaterThanOrEqual(130);
    expect(gap).toBeLessThan(230);
  });

  it('is POLL_INTERVAL_MS for every provider when it is set', async () => {
    const gap = await run({
      POLL_INTERVAL_MS: '30',
      POLL_MAX_INTERVAL_MS: '1000',
      POLL_BUDGET_PER_SECOND: '1000',
    });
    expect(gap).toBeLessThan(100);
  });
});
