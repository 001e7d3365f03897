import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProvidersConfig } from '../../src/config/config.js';
import { startHaiperEmulator, type HaiperEmulator } from '../../src/emulators/haiper/server.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import {
  startPixverseEmulator,
  type PixverseEmulator,
} from '../../src/emulators/pixverse/server.js';
import { buildProviders } from '../../src/providers/registrations.js';
import { KEY_A, KEY_B, auth } from '../helpers/test-app.js';
import {
  LAYOUTS,
  SD_REF,
  callsTo,
  startReplicateSuite,
  type Json,
  type ReplicateSuite,
} from './harness.js';

let suite: ReplicateSuite | undefined;
const others: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await suite?.close();
  suite = undefined;
  await Promise.all(others.splice(0).map((o) => o.close()));
});

const cancel = (s: ReplicateSuite, id: string, key = KEY_A, payload?: string) =>
  s.inject({
    method: 'POST',
    url: `/v1/tasks/${id}/cancel`,
    headers: {
      ...auth(key),
      ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(payload !== undefined ? { payload } : {}),
  });
const getTask = async (s: ReplicateSuite, id: string, key = KEY_A) =>
  (await s.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: auth(key) })).json() as Json;

describe.each(LAYOUTS)('POST /v1/tasks/{id}/cancel on replicate (emulator at %s)', (prefix) => {
  it('cancels upstream, wakes waiters, stops polling; a second cancel is 409', async () => {
    // The prediction never leaves `starting` on its own.
    suite = await startReplicateSuite({ prefix, emulator: { pollsStarting: 1_000_000 } });
    const s = suite;
    const created = (
      await s.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' })
    ).json() as Json;
    const id = created.id as string;
    expect(created.status).toBe('queued');
    await sleep(100); // a few polls happen

    // A long-poll in progress is told about the change at once.
    const waiting = s.inject({ method: 'GET', url: `/v1/tasks/${id}?wait=10`, headers: auth() });
    await sleep(50);
    const startedAt = Date.now();
    const res = await cancel(s, id, KEY_A, ''); // empty JSON body, as clients send it
    expect(res.statusCode).toBe(200);
    const task = res.json() as Json;
    expect(task).toMatchObject({
      id,
      status: 'canceled',
      upstream: { status: 'canceled' },
      outputs: [],
    });
    expect(task.completed_at).not.toBeNull();
    const woke = (await waiting).json() as Json;
    expect(woke.status).toBe('canceled');
    expect(Date.now() - startedAt).toBeLessThan(2000);

    const upstreamId = (task.upstream as Json).id as string;
    const cancels = callsTo(s.emu, 'POST', /\/cancel$/);
    expect(cancels.map((c) => c.path)).toEqual([`${prefix}/predictions/${upstreamId}/cancel`]);
    expect(cancels[0]?.headers.authorization).toMatch(/^Bearer r8_/);

    // No poll after the cancel. A poll claimed just before it may still arrive (its write
    // then loses the compare-and-set), so count from a moment later.
    await sleep(150);
    const pollsThen = callsTo(s.emu, 'GET', /\/predictions\/[a-z2-7]+$/).length;
    await sleep(400);
    expect(callsTo(s.emu, 'GET', /\/predictions\/[a-z2-7]+$/)).toHaveLength(pollsThen);
    expect((await getTask(s, id)).status).toBe('canceled');

    const again = await cancel(s, id);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'task_already_finished' });
    expect((again.json() as Json).detail).toMatch(/changed nothing/);
    expect(callsTo(s.emu, 'POST', /\/cancel$/)).toHaveLength(1);
    expect(s.leaks()).toEqual([]);
  });

  it("another tenant's task is 404 and stays untouched", async () => {
    suite = await startReplicateSuite({ prefix, emulator: { pollsStarting: 1_000_000 } });
    const created = (
      await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' })
    ).json() as Json;
    const res = await cancel(suite, created.id as string, KEY_B);
    expect(res.statusCode).toBe(404);
    expect((res.json() as Json).code).toBe('task_not_found');
    expect(callsTo(suite.emu, 'POST', /\/cancel$/)).toHaveLength(0);
    expect((await getTask(suite, created.id as string)).status).not.toBe('canceled');
  });

  it('a finished task is 409 task_already_finished and keeps its outputs', async () => {
    suite = await startReplicateSuite({ prefix });
    const created = (
      await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' })
    ).json() as Json;
    const done = await suite.waitDone(created.id as string);
    const res = await cancel(suite, created.id as string);
    expect(res.statusCode).toBe(409);
    expect((res.json() as Json).code).toBe('task_already_finished');
    expect(await getTask(suite, created.id as string)).toMatchObject({
      status: 'succeeded',
      outputs: done.outputs,
    });
    expect(callsTo(suite.emu, 'POST', /\/cancel$/)).toHaveLength(0);
  });

  it('an upstream error on cancel is reported and the task is unchanged', async () => {
    // No background poller: the fault meets the cancel, nothing else.
    suite = await startReplicateSuite({ prefix, app: { poller: false } });
    const created = (
      await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' })
    ).json() as Json;
    // The create holds a short `Prefer: wait` upstream, so on a loaded machine the prediction
    // may already be processing: either way it is unfinished, and must stay as it is.
    expect(['queued', 'running']).toContain(created.status);
    suite.emu.failNext({ kind: 'http5xx', status: 500 });
    const res = await cancel(suite, created.id as string);
    expect(res.statusCode).toBe(502);
    expect((res.json() as Json).code).toBe('upstream_error');
    expect((await getTask(suite, created.id as string)).status).toBe(created.status);
    // Once the upstream answers again, the cancel goes through.
    const retried = await cancel(suite, created.id as string);
    expect(retried.statusCode).toBe(200);
    expect((retried.json() as Json).status).toBe('canceled');
  });
});

describe('POST /v1/tasks/{id}/cancel on providers without a cancel API', () => {
  it('is 409 cancel_not_supported for every such registered provider, and nothing changes', async () => {
    const modelslab: ModelslabEmulator = await startModelslabEmulator();
    const pixverse: PixverseEmulator = await startPixverseEmulator({ pollsUntilDone: 1_000_000 });
    const haiper: HaiperEmulator = await startHaiperEmulator({ pollsPending: 1_000_000 });
    others.push(modelslab, pixverse, haiper);
    const extraProviders: ProvidersConfig = {
      modelslab: {
        baseUrl: modelslab.url,
        credentials: [{ id: 'modelslab-1', secret: 'ml-emulator-key' }],
        emulated: true,
        loadBalancer: true,
        videoPath: '/api/v1/enterprise/video/text2video',
      },
      pixverse: {
        baseUrl: pixverse.baseUrl,
        credentials: [{ id: 'pixverse-1', secret: 'pixverse-emulator-key' }],
        emulated: true,
      },
      haiper: {
        baseUrl: haiper.basePath,
        endpointPath: haiper.endpointPath,
        credentials: [{ id: 'haiper-1', secret: 'haiper-emulator-key' }],
        emulated: true,
      },
    };
    suite = await startReplicateSuite({ extraProviders });

    // Which providers this build registers, and which of them lack cancel().
    const registered = buildProviders({ ...suite.t.config, providers: { ...extraProviders } });
    const withoutCancel = [...registered.entries()]
      .filter(([, r]) => !r.adapter.cancel)
      .map(([id]) => id);
    await Promise.all([...registered.values()].map((r) => r.adapter.close?.()));
    expect(withoutCancel).toContain('modelslab');

    modelslab.scriptNext({ processing: 1_000_000 });
    const creates: Record<string, [string, Json]> = {
      modelslab: ['text-to-image', { model: 'modelslab/sdxl', prompt: 'x' }],
      pixverse: ['text-to-video', { model: 'pixverse', prompt: 'a cat walking' }],
      haiper: ['text-to-video', { model: 'haiper', prompt: 'a cat walking' }],
    };
    const checked: string[] = [];
    for (const provider of withoutCancel) {
      const spec = creates[provider];
      if (!spec) throw new Error(`no create body for ${provider}: add one to this test`);
      const res = await suite.create(spec[0], spec[1]);
      expect(res.statusCode, `${provider}: ${res.body}`).toBe(201);
      const before = res.json() as Json;
      expect(['queued', 'running']).toContain(before.status);

      const refused = await cancel(suite, before.id as string);
      expect(refused.statusCode, provider).toBe(409);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.json()).toMatchObject({ code: 'cancel_not_supported', status: 409 });
      expect((refused.json() as Json).detail).toContain(provider);
      const after = await getTask(suite, before.id as string);
      expect(['queued', 'running'], provider).toContain(after.status);
      expect(after.error).toBeNull();
      checked.push(provider);
    }
    expect(checked.sort()).toEqual([...withoutCancel].sort());
    expect(suite.leaks()).toEqual([]);
  });
});
