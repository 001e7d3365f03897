import type { LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { KEY_B, auth } from '../helpers/test-app.js';
import { problemOf, sleep, tracker, type Json, type Suite } from '../modelslab/harness.js';

// Issue 12 item 7: one tenant holding every ModelsLab slot (5 per credential) with long jobs
// and queueing more does not starve another tenant: B takes the next freed slot before A's
// queued creates, and finds a place in the queue even when A filled it.

const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };

/** Whether a promise has settled, without waiting for it. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([p.then(() => true), sleep(0).then(() => marker)])) !== marker;
}

async function pollOnce(s: Suite, store: MemoryTaskStore, id: string): Promise<void> {
  const task = await store.get(id);
  if (!task) throw new Error(`no task ${id}`);
  await s.app.tasks.poll(task);
}

describe('fair share of credential slots', () => {
  it("tenant B gets the next freed slot before A's queued creates, and a queue place A had filled", async () => {
    const store = new MemoryTaskStore();
    const s = await files.start({
      viaEnv: true,
      app: { store, poller: false, env: { QUEUE_MAX: '4', QUEUE_WAIT_MS: '3000' } },
    });
    // Tenant A: five long jobs hold every slot of the credential (ModelsLab's cap is 5).
    s.emu.scriptNext({ processing: 0, eta: 0 });
    for (let i = 0; i < 4; i++) s.emu.scriptNext({ processing: 1000, eta: 0 });
    const held: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await s.create('text-to-image', image);
      expect(res.statusCode).toBe(201);
      held.push(res.json<Json>().id as string);
    }
    // ...and four more creates fill the wait queue.
    const queuedA = Array.from({ length: 4 }, () => s.create('text-to-image', image));
    await sleep(50);
    for (const p of queuedA) expect(await settled(p)).toBe(false);

    // B, far below its share, still gets a place: A's newest queued create gives it up (429).
    s.emu.scriptNext({ processing: 0, eta: 0 });
    const b = s.create('text-to-image', image, auth(KEY_B));
    await sleep(50);
    expect(await settled(b)).toBe(false);
    const displaced = await queuedA[3]!;
    expect(displaced.statusCode).toBe(429);
    expect(problemOf(displaced)).toMatchObject({
      code: 'upstream_rate_limited',
      detail: expect.stringContaining('went to a tenant below its fair share'),
    });
    expect(s.emu.creates).toBe(5);

    // A's first job finishes: the freed slot goes to B, who queued last, not to A's waiters.
    await pollOnce(s, store, held[0]!);
    const bRes: LightMyRequestResponse = await b;
    expect(bRes.statusCode).toBe(201);
    await sleep(50);
    for (const p of queuedA.slice(0, 3)) expect(await settled(p)).toBe(false);
    expect(s.emu.creates).toBe(6);

    // B's job finishes: nobody else waits, so A borrows the slot again for its waiters.
    await pollOnce(s, store, bRes.json<Json>().id as string);
    for (const p of queuedA.slice(0, 3)) expect((await p).statusCode).toBe(201);
    expect(s.emu.creates).toBe(9);
  });
});
