import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import { REDIS_URL, deleteKeys, startRedisProxy, testKeyPrefix } from '../helpers/redis.js';
import { auth, buildTestApp, type TestApp } from '../helpers/test-app.js';
import { API, ML_KEYS, wrap, type Json } from '../modelslab/harness.js';
import {
  WEBHOOK_SECRET,
  startReceiver,
  until,
  verifyReceived,
  type Receiver,
} from '../webhooks/receiver.js';

/** Several apps in this process on one real Redis (127.0.0.1:6379, this file's own prefix). */
const prefix = testKeyPrefix('cluster-apps');
afterAll(async () => {
  await deleteKeys(prefix);
});

let emu: ModelslabEmulator | undefined;
let rx: Receiver | undefined;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
  await emu?.close();
  await rx?.close();
  emu = undefined;
  rx = undefined;
});

let spaces = 0;
async function setup() {
  emu = await startModelslabEmulator({ apiKeys: [...ML_KEYS], queueLimit: 1000 });
  const settings: ModelslabSettings = {
    baseUrl: emu.url,
    credentials: [{ id: 'modelslab-1', secret: ML_KEYS[0], maxInFlight: 50 }],
    emulated: false,
    loadBalancer: true,
    videoPath: `${API}/video/text2video`,
  };
  const keyPrefix = `${prefix}${++spaces}:`;
  const open = async (env: Record<string, string> = {}, deps = {}) => {
    const t = await buildTestApp({
      env: { STORE_URL: REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, ...env },
      providers: { modelslab: settings },
      ...deps,
    });
    apps.push(t);
    return wrap(emu!, t, () => t.close());
  };
  return { emu, open };
}

describe('apps sharing one Redis', () => {
  it('each webhook is delivered once although two instances run the webhook loop', async () => {
    const { emu, open } = await setup();
    rx = await startReceiver();
    const webhooks = { scheduleMs: [50, 100], attemptTimeoutMs: 1000, idleMs: 20 };
    const env = { WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' };
    const [a, b] = [await open(env, { webhooks }), await open(env, { webhooks })];
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      emu.scriptNext({ processing: 1, eta: 0 });
      const res = await (i % 2 ? a : b).create('text-to-image', {
        model: 'modelslab/sdxl',
        prompt: `fox ${i}`,
        webhook: { url: `${rx.url}/hook-${i}` },
      });
      expect(res.statusCode).toBe(201);
      ids.push(res.json<Json>().id as string);
    }
    for (const [i, id] of ids.entries()) {
      const [hit] = await until(async () => {
        const hits = rx!.received.filter((r) => r.path === `/hook-${i}`);
        return hits.length > 0 ? hits : undefined;
      }, `the webhook of ${id}`);
      expect(verifyReceived(hit!)).toMatchObject({ id, status: 'succeeded' });
    }
    // Both loops had time to pick anything up twice: nothing was.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < ids.length; i++) {
      expect(rx.received.filter((r) => r.path === `/hook-${i}`)).toHaveLength(1);
    }
  });

  it('starts while Redis is down, answers 503 meanwhile, and serves once Redis comes', async () => {
    const proxy = await startRedisProxy();
    try {
      proxy.cut();
      const { emu, open } = await setup();
      const a = await open({ STORE_URL: proxy.url });
      expect((await a.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      const read = await a.inject({ method: 'GET', url: '/v1/tasks', headers: auth() });
      expect(read.statusCode).toBe(503);
      expect(read.json()).toMatchObject({ code: 'store_unavailable' });

      proxy.restore();
      await until(
        async () => (await a.inject({ method: 'GET', url: '/readyz' })).statusCode === 200,
        'ready once Redis answers',
      );
      emu.scriptNext({ processing: 1, eta: 0 });
      const created = await a.create('text-to-image', { model: 'modelslab/sdxl', prompt: 'x' });
      expect(created.statusCode).toBe(201);
      const id = created.json<Json>().id as string;
      expect((await a.waitDone(id)).status).toBe('succeeded');
      expect(a.t.logs.join('')).toContain(
        'store unavailable: in-flight counts read once it answers',
      );
    } finally {
      for (const t of apps.splice(0)) await t.close();
      await proxy.close();
    }
  });

  it('a change written through one app wakes a long-poll on the other', async () => {
    const { emu, open } = await setup();
    // Only A polls: every change is written by A.
    const [a, b] = [await open(), await open({}, { poller: false })];
    emu.scriptNext({ processing: 3, eta: 0 });
    const created = (
      await a.create('text-to-image', { model: 'modelslab/sdxl', prompt: 'x' })
    ).json<Json>();
    const id = created.id as string;
    const started = Date.now();
    const res = await b.inject({
      method: 'GET',
      url: `/v1/tasks/${id}?wait=10`,
      headers: auth(),
    });
    const task = res.json<Json>();
    expect(task.updated_at).not.toBe(created.updated_at);
    // Woken by the change (pub/sub), not by the end of the wait nor the 1 s safety re-read.
    expect(Date.now() - started).toBeLessThan(800);
  });

  it('a key revoked through one app is refused by the other at once, though it kept the key', async () => {
    const { open } = await setup();
    const admin = { ADMIN_TOKEN: 'cluster-admin-token-0123456789' };
    const [a, b] = [await open(admin), await open(admin, { poller: false })];
    const asAdmin = { authorization: `Bearer ${admin.ADMIN_TOKEN}` };
    const adminCall = (method: 'POST' | 'DELETE', url: string, payload?: object) =>
      a.inject({ method, url, headers: asAdmin, ...(payload ? { payload } : {}) });
    const models = (key: string) =>
      b.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${key}` } });

    expect((await adminCall('POST', '/admin/tenants', { id: 'team-k' })).statusCode).toBe(201);
    const one = (await adminCall('POST', '/admin/tenants/team-k/keys', {})).json<Json>();
    const two = (await adminCall('POST', '/admin/tenants/team-k/keys', {})).json<Json>();
    // B reads both keys from Redis and keeps them.
    for (const key of [one.key, two.key, one.key, two.key]) {
      expect((await models(key as string)).statusCode).toBe(200);
    }

    // Refused on B once the revocation's message arrives, well before the 1 s a kept lookup
    // lives without one.
    let started = Date.now();
    expect((await adminCall('DELETE', `/admin/keys/${String(one.id)}`)).statusCode).toBe(200);
    await until(async () => (await models(one.key as string)).statusCode === 401, 'revoked', 800);
    expect(Date.now() - started).toBeLessThan(800);
    expect((await models(two.key as string)).statusCode).toBe(200);

    // Deleting the tenant revokes its other key on B too.
    started = Date.now();
    expect((await adminCall('DELETE', '/admin/tenants/team-k')).statusCode).toBe(200);
    await until(async () => (await models(two.key as string)).statusCode === 401, 'deleted', 800);
    expect(Date.now() - started).toBeLessThan(800);
  });
});
