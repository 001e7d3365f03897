import type { LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { KEY_A, auth } from '../helpers/test-app.js';
import { ML_KEYS, problemOf, sleep, tracker, type Json, type Suite } from '../modelslab/harness.js';

// Per-credential caps on jobs in flight, and the bounded wait queue of creates in front of them.

const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };

async function readyCredentials(s: Suite): Promise<Json[]> {
  const res = await s.inject({ method: 'GET', url: '/readyz' });
  expect(res.statusCode).toBe(200);
  return (res.json<{ credentials: Record<string, Json[]> }>().credentials.modelslab ??
    []) as Json[];
}

/** Polls a task once by hand (the background poller is off in these tests). */
async function pollOnce(s: Suite, store: MemoryTaskStore, id: string): Promise<void> {
  const task = await store.get(id);
  if (!task) throw new Error(`no task ${id}`);
  await s.app.tasks.poll(task);
}

/** Whether a promise has settled, without waiting for it. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([p.then(() => true), sleep(0).then(() => marker)])) !== marker;
}

describe.concurrent('in-flight cap per credential', () => {
  it('cap 2: the 3rd create waits and succeeds once a slot frees; beyond the queue → 429 with no upstream call', async () => {
    const store = new MemoryTaskStore();
    const s = await files.start({
      viaEnv: true,
      app: {
        store,
        poller: false,
        env: { MODELSLAB_MAX_IN_FLIGHT: '2', QUEUE_MAX: '1', QUEUE_WAIT_MS: '10000' },
      },
    });
    // Two jobs that stay processing until polled.
    s.emu.scriptNext({ processing: 0, eta: 0 });
    s.emu.scriptNext({ processing: 5, eta: 0 });
    const first = await s.create('text-to-image', image);
    const second = await s.create('text-to-image', image);
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(s.emu.creates).toBe(2);
    expect(await readyCredentials(s)).toEqual([
      { id: 'modelslab-1', state: 'closed', in_flight: 2, cap: 2 },
    ]);

    // The third waits for a slot: nothing sent upstream yet.
    const third = s.create('text-to-image', image);
    await sleep(100);
    expect(await settled(third)).toBe(false);
    expect(s.emu.creates).toBe(2);

    // A fourth finds the queue (QUEUE_MAX=1) full: 429 at once, before any upstream call.
    const fourth = await s.create('text-to-image', image);
    expect(fourth.statusCode).toBe(429);
    expect(problemOf(fourth)).toMatchObject({
      code: 'upstream_rate_limited',
      status: 429,
      detail: expect.stringMatching(/maximum of jobs in flight.*nothing was sent to modelslab/),
    });
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(s.emu.creates).toBe(2);

    // The first task finishes: its slot goes to the waiting create, which then succeeds.
    await pollOnce(s, store, first.json<Json>().id as string);
    const thirdRes: LightMyRequestResponse = await third;
    expect(thirdRes.statusCode).toBe(201);
    expect(s.emu.creates).toBe(3);
    // Only three tasks exist: the refused create left none behind.
    const list = await s.inject({ method: 'GET', url: '/v1/tasks', headers: auth(KEY_A) });
    expect(list.json<{ data: Json[] }>().data).toHaveLength(3);
    // The third finished at once (the emulator's default answer): the second is left in flight.
    expect(thirdRes.json<Json>().status).toBe('succeeded');
    expect((await readyCredentials(s))[0]).toMatchObject({ in_flight: 1, cap: 2 });
  });

  it('a create that waits longer than QUEUE_WAIT_MS gets 429 upstream_rate_limited, nothing sent', async () => {
    const s = await files.start({
      settings: {
        credentials: [{ id: 'modelslab-1', secret: ML_KEYS[0], maxInFlight: 1 }],
      },
      app: { poller: false, env: { QUEUE_WAIT_MS: '200' } },
    });
    s.emu.scriptNext({ processing: 5, eta: 0 });
    expect((await s.create('text-to-image', image)).statusCode).toBe(201);
    const started = Date.now();
    const res = await s.create('text-to-image', image);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(res.statusCode).toBe(429);
    expect(problemOf(res)).toMatchObject({
      code: 'upstream_rate_limited',
      detail: expect.stringContaining('no slot freed up within 200 ms'),
    });
    expect(s.emu.creates).toBe(1);
  });

  it('spills over to the next credential before anyone waits; QUEUE_MAX=0 refuses at once', async () => {
    const s = await files.start({
      settings: {
        loadBalancer: true,
        credentials: [
          { id: 'modelslab-1', secret: ML_KEYS[0], maxInFlight: 1 },
          { id: 'modelslab-2', secret: ML_KEYS[1], maxInFlight: 1 },
        ],
      },
      app: { poller: false, env: { QUEUE_MAX: '0' } },
    });
    for (let i = 0; i < 2; i++) {
      s.emu.scriptNext({ processing: 5, eta: 0 });
      expect((await s.create('text-to-image', image)).statusCode).toBe(201);
    }
    expect(s.emu.keysUsed()).toEqual([ML_KEYS[0], ML_KEYS[1]]);
    const started = Date.now();
    const res = await s.create('text-to-image', image);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.statusCode).toBe(429);
    expect(problemOf(res).code).toBe('upstream_rate_limited');
    expect(s.emu.creates).toBe(2);
  });

  it('default caps come from the provider (ModelsLab 5); a file credential sets its own', async () => {
    const s = await files.start({
      settings: {
        credentials: [
          { id: 'modelslab-1', secret: ML_KEYS[0] },
          { id: 'big-plan', secret: ML_KEYS[1], maxInFlight: 15 },
        ],
      },
    });
    expect(await readyCredentials(s)).toEqual([
      { id: 'modelslab-1', state: 'closed', in_flight: 0, cap: 5 },
      { id: 'big-plan', state: 'closed', in_flight: 0, cap: 15 },
    ]);
  });
});
