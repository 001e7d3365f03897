import { afterAll, describe, expect, it } from 'vitest';
import { KEY_A, auth } from '../helpers/test-app.js';
import { fetchesOf, tracker, type Json } from '../modelslab/harness.js';

// Tests run concurrently (most of them wait on the clock), each on its own emulator and app.
const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };

describe.concurrent('Prefer: wait=N on create', () => {
  it('returns the finished task when the job completes in time', async () => {
    const s = await files.start();
    s.emu.scriptNext({ processing: 2, eta: 0 });
    const started = Date.now();
    const res = await s.create('text-to-image', image, { prefer: 'wait=5' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['preference-applied']).toBe('wait=5');
    const task = res.json<Json>();
    expect(task).toMatchObject({ status: 'succeeded', progress: 1 });
    expect(task.outputs).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('returns the running task when the job is not done in time', async () => {
    const s = await files.start();
    s.emu.scriptNext({ processing: 0, eta: 5 });
    const started = Date.now();
    const res = await s.create('text-to-image', image, { prefer: 'respond-async, wait=1' });
    const elapsed = Date.now() - started;
    expect(res.statusCode).toBe(201);
    expect(res.headers['preference-applied']).toBe('wait=1');
    expect(res.json<Json>()).toMatchObject({ status: 'running', outputs: [] });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(4000);
  });

  it('an immediate success needs no waiting and still reports the preference', async () => {
    const s = await files.start();
    const started = Date.now();
    const res = await s.create('text-to-image', image, { prefer: 'wait=10' });
    expect(res.json<Json>().status).toBe('succeeded');
    expect(res.headers['preference-applied']).toBe('wait=10');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a failure inside the wait is returned as the failed task', async () => {
    const s = await files.start();
    s.emu.scriptNext({ fail: 'Processing failed: bad luck', afterFetches: 0 });
    const res = await s.create('text-to-image', image, { prefer: 'wait=5' });
    expect(res.statusCode).toBe(201);
    expect(res.json<Json>()).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_rejected', message: expect.stringContaining('bad luck') },
    });
  });

  it('without Prefer there is no waiting and no preference-applied', async () => {
    const s = await files.start();
    s.emu.scriptNext({ processing: 0, eta: 5 });
    const res = await s.create('text-to-image', image);
    expect(res.json<Json>().status).toBe('running');
    expect(res.headers['preference-applied']).toBeUndefined();
  });
});

describe.concurrent('GET /v1/tasks/{id}?wait=N', () => {
  it('returns soon after the task changes, not at the end of the wait', async () => {
    const s = await files.start();
    s.emu.scriptNext({ processing: 0, eta: 0.5 });
    const created = (await s.create('text-to-image', image)).json<Json>();
    const started = Date.now();
    const res = await s.inject({
      method: 'GET',
      url: `/v1/tasks/${created.id as string}?wait=20`,
      headers: auth(KEY_A),
    });
    const returnedAt = Date.now();
    expect(res.json<Json>().status).toBe('succeeded');
    const [fetch] = fetchesOf(s.emu, (created.upstream as Json).id as string);
    expect(fetch).toBeDefined();
    // Held until the change (the fetch at ~0.5 s), then answered promptly.
    expect(fetch!.at).toBeGreaterThanOrEqual(started);
    expect(returnedAt - fetch!.at).toBeLessThan(1500);
    expect(returnedAt - started).toBeLessThan(10_000);
  });

  it('returns the unchanged task when nothing happens within N seconds', async () => {
    const s = await files.start();
    s.emu.scriptNext({ processing: 0, eta: 30 });
    const created = (await s.create('text-to-image', image)).json<Json>();
    const started = Date.now();
    const res = await s.inject({
      method: 'GET',
      url: `/v1/tasks/${created.id as string}?wait=1`,
      headers: auth(KEY_A),
    });
    const elapsed = Date.now() - started;
    expect(res.statusCode).toBe(200);
    expect(res.json<Json>()).toMatchObject({ status: 'running', updated_at: created.updated_at });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(4000);
  });

  it('a terminal task is returned at once', async () => {
    const s = await files.start();
    const created = (await s.create('text-to-image', image)).json<Json>();
    const started = Date.now();
    const res = await s.inject({
      method: 'GET',
      url: `/v1/tasks/${created.id as string}?wait=20`,
      headers: auth(KEY_A),
    });
    expect(res.json<Json>().status).toBe('succeeded');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
