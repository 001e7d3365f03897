import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import {
  REDIS_URL,
  deleteKeys,
  keysUnder,
  startRedisProxy,
  testKeyPrefix,
} from '../helpers/redis.js';
import { auth, buildTestApp, findSecrets, type TestApp } from '../helpers/test-app.js';
import { API, ML_KEYS, fetchesOf, wrap, type Json, type Suite } from '../modelslab/harness.js';

/** The real app on STORE_URL=redis:// (a real Redis on loopback, this file's own prefix). */
const prefix = testKeyPrefix('app');
afterAll(async () => {
  await deleteKeys(prefix);
});

let emu: ModelslabEmulator | undefined;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
  await emu?.close();
  emu = undefined;
});

let spaces = 0;
async function setup(base: Record<string, string> = {}) {
  emu = await startModelslabEmulator({ apiKeys: [...ML_KEYS] });
  const settings: ModelslabSettings = {
    baseUrl: emu.url,
    credentials: [{ id: 'modelslab-1', secret: ML_KEYS[0] }],
    emulated: false,
    loadBalancer: true,
    videoPath: `${API}/video/text2video`,
  };
  const keyPrefix = `${prefix}${++spaces}:`;
  const open = async (env: Record<string, string> = {}) => {
    const t = await buildTestApp({
      env: { STORE_URL: REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, ...base, ...env },
      providers: { modelslab: settings },
    });
    apps.push(t);
    return wrap(emu!, t, () => t.close());
  };
  return { emu, open, keyPrefix };
}

describe('the app on STORE_URL=redis://', () => {
  it('creates a task, polls it to succeeded and lists it, all through Redis', async () => {
    const { emu, open, keyPrefix } = await setup();
    const a = await open();
    emu.scriptNext({ processing: 2, eta: 0 });
    const res = await a.create('text-to-video', { model: 'modelslab', prompt: 'waves' });
    expect(res.statusCode).toBe(201);
    const created = res.json<Json>();
    expect(created.status).toBe('running');
    const id = created.id as string;
    const done = await a.waitDone(id);
    expect(done).toMatchObject({ id, status: 'succeeded' });
    expect((done.outputs as Json[])[0]).toMatchObject({ content_type: 'video/mp4' });
    expect(emu.creates).toBe(1);

    const list = await a.inject({ method: 'GET', url: '/v1/tasks', headers: auth() });
    expect(list.json<{ data: Json[] }>().data.map((t) => t.id)).toEqual([id]);
    // The task and its indexes live in Redis, under the configured prefix.
    expect(await keysUnder(`${keyPrefix}{gw}:task:`)).toEqual([`${keyPrefix}{gw}:task:${id}`]);
    const ready = await a.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(a.leaks()).toEqual([]);
  });

  it("a second app on the same Redis prefix reads and finishes the first one's task", async () => {
    const { emu, open } = await setup();
    // First instance: slow polling, so it is closed before its first fetch.
    const first: Suite = await open({ POLL_INTERVAL_MS: '1000', POLL_MAX_INTERVAL_MS: '1000' });
    emu.scriptNext({ processing: 3, eta: 0 });
    const created = (
      await first.create('text-to-video', {
        model: 'modelslab',
        prompt: 'waves',
        metadata: { k: 'v' },
      })
    ).json<Json>();
    const id = created.id as string;
    const upstreamId = (created.upstream as Json).id as string;
    await first.t.close();
    apps.splice(apps.indexOf(first.t), 1);
    expect(fetchesOf(emu, upstreamId)).toHaveLength(0);

    const second = await open();
    expect(await second.getTask(id)).toMatchObject({
      id,
      status: 'running',
      upstream: { id: upstreamId, status: 'processing' },
      metadata: { k: 'v' },
      created_at: created.created_at,
    });
    const done = await second.waitDone(id);
    expect(done).toMatchObject({ id, status: 'succeeded', upstream: { id: upstreamId } });
    expect(fetchesOf(emu, upstreamId)).toHaveLength(4);
    expect(emu.creates).toBe(1);

    // A third instance on the same prefix gives the same answer.
    const third = await open();
    expect(await third.getTask(id)).toEqual(done);
    for (const s of [first, second, third]) expect(s.leaks()).toEqual([]);
    expect(findSecrets([...first.t.logs, ...second.t.logs], ML_KEYS)).toEqual([]);
  });
});

describe('the app when Redis goes away', () => {
  it('keeps running, /readyz answers 503, and it recovers by itself when Redis is back', async () => {
    const proxy = await startRedisProxy();
    try {
      const { emu, open } = await setup({ STORE_URL: proxy.url });
      const a = await open();
      emu.scriptNext({ processing: 0, eta: 0 });
      const created = (
        await a.create('text-to-image', { model: 'modelslab/sdxl', prompt: 'fox' })
      ).json<Json>();
      const id = created.id as string;
      expect((await a.waitDone(id)).status).toBe('succeeded');

      proxy.cut();
      const cutAt = Date.now();
      const down = await a.inject({ method: 'GET', url: '/readyz' });
      expect(down.statusCode).toBe(503);
      // Commands fail fast during the outage (no queue, no wait for a reconnect).
      const read = await a.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: auth() });
      expect(read.statusCode).toBe(503);
      expect(read.headers['content-type']).toContain('application/problem+json');
      expect(read.headers['retry-after']).toBe('2');
      expect(read.json()).toMatchObject({ code: 'store_unavailable', status: 503 });
      expect(Date.now() - cutAt).toBeLessThan(1000);
      // Long enough for the poller, the webhook loop and the reconnects to run into it.
      await new Promise((r) => setTimeout(r, 1500));

      proxy.restore();
      const deadline = Date.now() + 10_000;
      let ready = 0;
      while (Date.now() < deadline) {
        ready = (await a.inject({ method: 'GET', url: '/readyz' })).statusCode;
        if (ready === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(200);
      expect((await a.getTask(id)).status).toBe('succeeded');
      const logs = a.t.logs.join('');
      expect(logs).toContain('redis: connection lost');
      expect(logs).toContain('redis: connection back');
    } finally {
      for (const t of apps.splice(0)) await t.close();
      await proxy.close();
    }
  });
});
