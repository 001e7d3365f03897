import { afterAll, describe, expect, it } from 'vitest';
import { KEY_A, auth } from '../helpers/test-app.js';
import {
  API,
  ML_BAD_KEY,
  callsTo,
  problemOf,
  sleep,
  tracker,
  type Json,
  type Suite,
} from './harness.js';

// Tests run concurrently, each on its own emulator and app.
const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };

/** The tenant's failed tasks, newest first. */
async function failedTasks(suite: Suite): Promise<Json[]> {
  const res = await suite.inject({
    method: 'GET',
    url: '/v1/tasks?status=failed',
    headers: auth(KEY_A),
  });
  return res.json<{ data: Json[] }>().data;
}

describe.concurrent.each(['always-200', 'real'] as const)(
  'ModelsLab errors (HTTP mode %s)',
  (mode) => {
    it('a refused upstream key is 502 upstream_auth_failed, never showing the key', async () => {
      const s = await files.start({
        emulator: { errorHttpStatus: mode },
        credentialSecrets: [ML_BAD_KEY],
      });
      const res = await s.create('text-to-image', image);
      expect(res.statusCode).toBe(502);
      const problem = problemOf(res);
      expect(problem).toMatchObject({
        status: 502,
        code: 'upstream_auth_failed',
        request_id: res.headers['x-request-id'],
        detail: expect.stringContaining('Invalid API key'),
      });
      expect(res.body).not.toContain(ML_BAD_KEY);
      expect(s.t.logs.join('\n')).not.toContain(ML_BAD_KEY);
      // The emulator did receive that key: the scan is looking for something real.
      expect(s.emu.keysUsed()).toEqual([ML_BAD_KEY]);
      const [task] = await failedTasks(s);
      expect(task).toMatchObject({ status: 'failed', error: { code: 'upstream_auth_failed' } });
      expect(JSON.stringify(task)).not.toContain(ML_BAD_KEY);
    });

    it('a full upstream queue is 429 upstream_rate_limited with Retry-After from retry_after', async () => {
      const s = await files.start({ emulator: { errorHttpStatus: mode } });
      s.emu.scriptNext('queue-full');
      const res = await s.create('text-to-image', image);
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('30');
      expect(problemOf(res)).toMatchObject({
        code: 'upstream_rate_limited',
        detail: expect.stringContaining('Maximum 5 queued requests'),
      });
      expect(s.emu.creates).toBe(0);
    });

    it('the real per-key queue limit gives 429 once the queue is full', async () => {
      const s = await files.start({ emulator: { errorHttpStatus: mode, queueLimit: 1 } });
      s.emu.scriptNext({ processing: 100, eta: 30 });
      const first = await s.create('text-to-image', image);
      expect(first.json<Json>().status).toBe('running');
      const second = await s.create('text-to-image', image);
      expect(second.statusCode).toBe(429);
      expect(second.headers['retry-after']).toBe('30');
      expect(problemOf(second).code).toBe('upstream_rate_limited');
      expect(s.emu.creates).toBe(1);
    });

    it('no credits left is 502 upstream_credits_exhausted', async () => {
      const s = await files.start({ emulator: { errorHttpStatus: mode } });
      s.emu.scriptNext('no-credits');
      const res = await s.create('text-to-image', image);
      expect(res.statusCode).toBe(502);
      expect(problemOf(res)).toMatchObject({
        code: 'upstream_credits_exhausted',
        detail: expect.stringContaining('Insufficient credits'),
      });
      const [task] = await failedTasks(s);
      expect(task?.error).toMatchObject({ code: 'upstream_credits_exhausted' });
    });

    it('an upstream 500 on create is 502 upstream_outcome_unknown, the task failed, the create never repeated', async () => {
      const s = await files.start({ emulator: { errorHttpStatus: mode } });
      s.emu.scriptNext({ http: 500 });
      const res = await s.create('text-to-image', image);
      expect(res.statusCode).toBe(502);
      // A bare 5xx may hide a started job: outcome unknown, never re-sent.
      expect(problemOf(res)).toMatchObject({ code: 'upstream_outcome_unknown', status: 502 });
      // Give a retry (which must not happen) the time to show up.
      await sleep(300);
      expect(callsTo(s.emu, `${API}/text2img`)).toHaveLength(1);
      expect(s.emu.calls).toHaveLength(1);
      const tasks = await failedTasks(s);
      expect(tasks).toHaveLength(1);
      expect(tasks[0]).toMatchObject({
        status: 'failed',
        outputs: [],
        error: { code: 'upstream_outcome_unknown' },
        completed_at: expect.any(String),
      });
    });
  },
);

describe.concurrent('ModelsLab errors, other upstream failures on create', () => {
  it.each([502, 503])('an upstream %i on create is 502 and is not retried', async (http) => {
    const s = await files.start();
    s.emu.scriptNext({ http });
    const res = await s.create('text-to-video', { model: 'modelslab', prompt: 'waves' });
    expect(res.statusCode).toBe(502);
    expect(problemOf(res).code).toBe('upstream_outcome_unknown');
    await sleep(200);
    expect(s.emu.calls).toHaveLength(1);
  });

  it('an unreachable upstream is a 5xx problem, not a crash', async () => {
    const s = await files.start({ settings: { baseUrl: 'http://127.0.0.1:1' } });
    const res = await s.create('text-to-image', image);
    expect(res.statusCode).toBe(503);
    expect(problemOf(res).code).toBe('upstream_unavailable');
  });
});
