import { afterAll, describe, expect, it } from 'vitest';
import { sleep, startEngine, until, upstreamIdOf, type Engine } from './harness.js';

/**
 * Background polling and long-polling readers, against the Haiper emulator: the poller alone
 * talks to the upstream, once per interval, however many clients read the task.
 */

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines.splice(0)) await e.close();
});

async function engine(opts: Parameters<typeof startEngine>[0] = {}): Promise<Engine> {
  const e = await startEngine(opts);
  engines.push(e);
  return e;
}

const taskReads = (e: Engine) =>
  e.t.logs.filter((l) => l.includes('"msg":"request"') && l.includes('"url":"/v1/tasks/')).length;

describe('the poller and readers', () => {
  it('a task with no reader completes in the background', async () => {
    const e = await engine({ emulator: { pollsPending: 1, pollsInProgress: 2 } });
    const created = await e.create();
    expect(created.status).toBe('queued');
    const upstreamId = upstreamIdOf(created);
    // PENDING, IN_PROGRESS ×2, SUCCESS: four polls, nobody reading.
    await until(() => e.polls(upstreamId).length >= 4, 'four polls', 10_000);
    await sleep(300);
    expect(e.polls(upstreamId)).toHaveLength(4);
    expect(taskReads(e)).toBe(0);
    const task = await e.get(created.id as string);
    expect(task.body).toMatchObject({ status: 'succeeded', progress: 1, error: null });
    expect(task.body.outputs as unknown[]).toHaveLength(1);
    // Finished: no more polls.
    await sleep(200);
    expect(e.polls(upstreamId)).toHaveLength(4);
  });

  it('200 concurrent ?wait readers of one task cause no more upstream polls than one reader', async () => {
    // Long running; every poll raises the progress (a change that wakes every reader).
    const e = await engine({
      emulator: { pollsPending: 0, pollsInProgress: 100_000 },
      env: { POLL_INTERVAL_MS: '100', POLL_MAX_INTERVAL_MS: '100' },
    });
    const windowMs = 2000;
    /** `readers` clients long-poll a fresh task for the window; its upstream polls then. */
    const phase = async (readers: number) => {
      const task = await e.create();
      const id = task.id as string;
      await until(() => e.polls(upstreamIdOf(task)).length > 0, 'condition', 5000);
      const started = Date.now();
      const stopAt = started + windowMs;
      let answers = 0;
      const reader = async () => {
        while (Date.now() < stopAt) {
          const res = await e.get(id, '?wait=10');
          expect(res.status).toBe(200);
          expect(res.body.status).toBe('running');
          answers++;
        }
      };
      await Promise.all(Array.from({ length: readers }, reader));
      const ended = Date.now();
      const polls = e.polls(upstreamIdOf(task)).filter((c) => c.at >= started && c.at <= ended);
      // At most one poll per 100 ms interval (-10% jitter), whoever reads.
      expect(polls.length).toBeLessThanOrEqual(Math.ceil((ended - started) / 90) + 1);
      return { polls: polls.length, answers };
    };
    const one = await phase(1);
    const many = await phase(200);
    // The readers were woken by the changes, many times over...
    expect(many.answers).toBeGreaterThan(200 * 3);
    // ...yet the task was polled no more often than with a single reader.
    expect(many.polls).toBeLessThanOrEqual(one.polls + 1);
    expect(one.polls).toBeGreaterThanOrEqual(5);
  });

  it('?wait returns within a short time of the upstream answer that changed the task', async () => {
    const e = await engine({
      emulator: { pollsPending: 2, pollsInProgress: 5 },
      env: { POLL_INTERVAL_MS: '150', POLL_MAX_INTERVAL_MS: '150' },
    });
    const created = await e.create();
    const id = created.id as string;
    const upstreamId = upstreamIdOf(created);
    let last = (await e.get(id)).body;
    const latencies: number[] = [];
    while (last.status !== 'succeeded') {
      const asked = Date.now();
      const res = await e.get(id, '?wait=10');
      const returned = Date.now();
      expect(res.body.updated_at).not.toBe(last.updated_at);
      // The poll whose answer carried the change: the latest one before the answer.
      const poll = e
        .polls(upstreamId)
        .filter((c) => c.at <= returned)
        .pop();
      expect(poll).toBeDefined();
      if (poll!.at >= asked) latencies.push(returned - poll!.at);
      last = res.body;
    }
    // Every change after PENDING was waited for (the reader is always back before the next).
    expect(latencies.length).toBeGreaterThanOrEqual(5);
    for (const ms of latencies) expect(ms).toBeLessThan(300);
  });
});
