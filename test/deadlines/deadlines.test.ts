import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHaiperEmulator, type HaiperEmulator } from '../../src/emulators/haiper/server.js';
import { auth, buildTestApp, waitForTerminal, type TestApp } from '../helpers/test-app.js';
import { SD_REF, callsTo, startReplicateSuite, type ReplicateSuite } from '../replicate/harness.js';

/**
 * Deadlines (`timeout_seconds`, `Cancel-After`): a slow job with a 2 s deadline ends as the
 * contract says (canceled upstream where the provider can, else failed) with
 * `deadline_exceeded`, and the upstream hears nothing more about it after the deadline.
 */

type Json = Record<string, unknown>;
const DEADLINE_S = 2;
/** How long after the deadline the tests keep counting upstream calls. */
const QUIET_MS = 600;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a deadline on a provider without a cancel API (Haiper)', () => {
  const KEY = 'haiper-deadline-access-key-0123456789';
  let emu: HaiperEmulator;
  let t: TestApp;

  beforeAll(async () => {
    emu = await startHaiperEmulator({ accessKeys: [KEY], pollsInProgress: 1_000_000 });
    t = await buildTestApp({
      providers: {
        haiper: {
          baseUrl: emu.basePath,
          endpointPath: emu.endpointPath,
          credentials: [{ id: 'haiper-1', secret: KEY }],
          emulated: false,
        },
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await emu.close();
  });

  it('polls until the deadline, then fails the task with deadline_exceeded and polls no more', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/text-to-video',
      headers: auth(),
      payload: { model: 'haiper', prompt: 'a very slow sunrise', timeout_seconds: DEADLINE_S },
    });
    expect(res.statusCode).toBe(201);
    const created = res.json<Json>();
    const deadline = Date.parse(created.created_at as string) + DEADLINE_S * 1000;

    const task = await waitForTerminal(t.app, created.id as string);
    const endedAt = Date.now();
    expect(task).toMatchObject({ status: 'failed', outputs: [] });
    expect(task.error).toMatchObject({ code: 'deadline_exceeded' });
    expect((task.error as Json).message).toMatch(/within its deadline \(2 s\).*no cancel API/);
    // Not given up early: it ended at the deadline (the poller's pass may come a little later).
    expect(endedAt).toBeGreaterThanOrEqual(deadline);
    expect(Date.parse(task.completed_at as string)).toBeGreaterThanOrEqual(deadline);

    const polls = () => emu.calls.filter((c) => c.method === 'GET' && c.path.includes('/tasks/'));
    expect(polls().length).toBeGreaterThan(1); // followed while the deadline had not passed
    // None after genway ended it (a poll sent just before the deadline may land just after it).
    const ended = Date.parse(task.completed_at as string);
    expect(polls().filter((c) => c.at > ended)).toEqual([]);
    const settled = emu.calls.length;
    await sleep(QUIET_MS);
    expect(emu.calls.length).toBe(settled);
  });

  it('refuses a timeout_seconds outside 1..86400 before anything starts', async () => {
    for (const timeout of [0, 86_401, 1.5, '30']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/text-to-video',
        headers: auth(),
        payload: { model: 'haiper', prompt: 'x', timeout_seconds: timeout },
      });
      expect(res.statusCode, String(timeout)).toBe(400);
      expect(res.json<Json>().errors).toEqual([
        expect.objectContaining({ path: 'timeout_seconds' }),
      ]);
    }
  });
});

describe('a deadline on Replicate (cancel API, Cancel-After passed through)', () => {
  let s: ReplicateSuite;

  beforeAll(async () => {
    // Real time in the emulator, so that the Cancel-After genway passes on means 5 s there.
    s = await startReplicateSuite({
      emulator: { timeScale: 1, pollsStarting: 1, pollsProcessing: 1_000_000 },
    });
  });
  afterAll(async () => {
    expect(s.leaks()).toEqual([]);
    await s.close();
  });

  it('tells Replicate the deadline, cancels there at it, ends canceled and polls no more', async () => {
    const res = await s.create('text-to-image', {
      model: `replicate/${SD_REF}`,
      prompt: 'a very slow astronaut',
      timeout_seconds: DEADLINE_S,
    });
    expect(res.statusCode).toBe(201);
    const created = res.json<Json>();
    const deadline = Date.parse(created.created_at as string) + DEADLINE_S * 1000;
    const [create] = callsTo(s.emu, 'POST', /\/predictions$/);
    // At least Replicate's 5 s minimum; genway cancels at the exact deadline itself.
    expect(create?.headers['cancel-after']).toBe('5s');
    // The create was not held past the deadline.
    const wait = Number(String(create?.headers.prefer).replace('wait=', ''));
    expect(wait).toBeLessThanOrEqual(DEADLINE_S);

    const task = await s.waitDone(created.id as string);
    expect(task).toMatchObject({
      status: 'canceled',
      upstream: { status: 'canceled' },
      error: { code: 'deadline_exceeded' },
    });
    expect((task.error as Json).message).toMatch(/genway canceled it at replicate/);

    const cancels = callsTo(s.emu, 'POST', /\/cancel$/);
    expect(cancels).toHaveLength(1);
    expect(cancels[0]!.at).toBeGreaterThanOrEqual(deadline);
    // No poll once genway canceled it.
    const polls = callsTo(s.emu, 'GET', /\/predictions\/[^/]+$/);
    expect(polls.filter((c) => c.at > cancels[0]!.at)).toEqual([]);
    const settled = s.emu.calls.length;
    await sleep(QUIET_MS);
    expect(s.emu.calls.length).toBe(settled);
  });

  it('Cancel-After on /replicate/v1 sets the same deadline; a malformed one is a 400', async () => {
    const bad = await s.inject({
      method: 'POST',
      url: '/replicate/v1/predictions',
      headers: { ...auth(), 'cancel-after': 'soon' },
      payload: { version: SD_REF, input: { prompt: 'x' } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<Json>()).toMatchObject({ status: 400, title: 'Bad request' });
    expect(bad.json<Json>().detail).toMatch(/Cancel-After/);

    const before = callsTo(s.emu, 'POST', /\/predictions$/).length;
    const res = await s.inject({
      method: 'POST',
      url: '/replicate/v1/predictions',
      headers: { ...auth(), 'cancel-after': '1h30m' },
      payload: { version: SD_REF, input: { prompt: 'a slow one' } },
    });
    expect(res.statusCode).toBe(201);
    const creates = callsTo(s.emu, 'POST', /\/predictions$/);
    expect(creates).toHaveLength(before + 1);
    expect(creates.at(-1)?.headers['cancel-after']).toMatch(/^(5399|5400)s$/);
  });
});
