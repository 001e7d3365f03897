import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import type { ReplicateSettings } from '../../src/providers/replicate/index.js';
import { loadConfig } from '../../src/config/load.js';
import type { StartCall, UpstreamSnapshot } from '../../src/domain/ports.js';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
} from '../../src/emulators/replicate/server.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { UpstreamClient } from '../../src/providers/http-client.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { FakeAdapter } from '../helpers/fake-provider.js';
import {
  KEY_A,
  KEY_B,
  auth,
  buildTestApp,
  waitForTerminal,
  type TestApp,
} from '../helpers/test-app.js';
import { closedPort, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

/**
 * Only a create that provably never left may go elsewhere: to another credential of the same
 * provider, or to a configured fallback model. Anything that may have reached the upstream
 * stays where it was (and fails as outcome unknown).
 */

const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
const SD_MODEL = `replicate/stability-ai/stable-diffusion:${SD}`;
const R8_TOKEN = 'r8_failover_token_7c2e9a4b1d3f5e6a';
const ML_KEYS = ['ml-failover-key-one-3a4b5c6d7e8f9a0b', 'ml-failover-key-two-4b5c6d7e8f9a0b1c'];

const dir = mkdtempSync(join(tmpdir(), 'genway-failover-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let t: TestApp | undefined;
let emu: ReplicateEmulator | undefined;
let fake: FakeUpstream | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await t?.close();
  await app?.close();
  await emu?.close();
  await fake?.close();
  t = emu = fake = app = undefined;
});

/** ModelsLab (two credentials) at `mlBaseUrl`, and `modelslab/sdxl` → Replicate SD as fallback. */
async function withFallback(mlBaseUrl: string) {
  emu = await startReplicateEmulator({ tokens: [R8_TOKEN], timeScale: 0.01 });
  const file = join(dir, `gateway-${Date.now()}-${Math.random()}.yaml`);
  writeFileSync(file, `fallbacks:\n  modelslab/sdxl:\n    - "${SD_MODEL}"\n`);
  const modelslab: ModelslabSettings = {
    baseUrl: mlBaseUrl,
    credentials: ML_KEYS.map((secret, i) => ({ id: `modelslab-${i + 1}`, secret })),
    emulated: false,
    loadBalancer: false,
    videoPath: '/api/v1/enterprise/video/text2video',
  };
  const replicate: ReplicateSettings = {
    baseUrl: emu.baseUrl,
    credentials: [{ id: 'replicate-1', secret: R8_TOKEN }],
    emulated: true,
    models: [],
  };
  t = await buildTestApp({
    providers: { modelslab, replicate },
    env: { GATEWAY_CONFIG: file, UPSTREAM_TIMEOUT_MS: '300' },
  });
  return { t, emu };
}

const createImage = (app: FastifyInstance, key = KEY_A) =>
  app.inject({
    method: 'POST',
    url: '/v1/text-to-image',
    headers: auth(key),
    payload: { model: 'modelslab/sdxl', prompt: 'a windmill', width: 512, height: 512 },
  });

describe('fallback model (GATEWAY_CONFIG fallbacks)', () => {
  it('connection refused on every ModelsLab credential: the create moves to the fallback and succeeds', async () => {
    const { t, emu } = await withFallback(`http://127.0.0.1:${await closedPort()}`);
    const res = await createImage(t.app);
    expect(res.statusCode).toBe(201);
    const task = res.json<Record<string, unknown>>();
    expect(task).toMatchObject({ model: SD_MODEL, provider: 'replicate' });
    expect(emu.creates).toBe(1);
    expect(await waitForTerminal(t.app, String(task.id))).toMatchObject({
      status: 'succeeded',
      model: SD_MODEL,
    });
    // Both ModelsLab credentials were tried first (nothing reached ModelsLab), then Replicate.
    const moves = t.logs.filter((l) => l.includes('trying the next credential or fallback model'));
    expect(moves).toHaveLength(2);
    expect(t.logs.join('\n')).not.toContain(ML_KEYS[0]);
  });

  it('a create that may have reached ModelsLab is not moved: outcome unknown, the fallback untouched', async () => {
    fake = await startFakeUpstream({ kind: 'reset' });
    const { t, emu } = await withFallback(fake.url);
    const res = await createImage(t.app);
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ code: 'upstream_outcome_unknown' });
    await sleep(300);
    expect(fake.calls).toHaveLength(1);
    expect(emu.creates).toBe(0);
  });

  it('a fallback is only used when it serves the operation: text-to-video has none here', async () => {
    const { t, emu } = await withFallback(`http://127.0.0.1:${await closedPort()}`);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/text-to-video',
      headers: auth(KEY_B),
      payload: { model: 'modelslab', prompt: 'a river' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'upstream_unavailable' });
    expect(emu.creates).toBe(0);
  });
});

describe('another credential of the same provider', () => {
  /**
   * ModelsLab has one base URL for all its keys, so a refused connection cannot hit one key
   * only. This adapter sends each credential's creates to its own origin through the real
   * UpstreamClient: credential 1 to a closed port, credential 2 to a live fake upstream.
   */
  async function routedApp(origins: Record<string, string>) {
    const client = new UpstreamClient({ provider: 'routed', timeoutMs: 300 });
    const adapter = new FakeAdapter({
      onStart: async (call: StartCall): Promise<UpstreamSnapshot> => {
        const res = await client.send(`${origins[call.credential.id]}/create`, {
          method: 'POST',
          json: { prompt: call.input.prompt },
        });
        if (res.status >= 500)
          throw new GatewayError('upstream_error', 'HTTP 5xx', { retryable: true });
        return { upstreamId: 'job-1', upstreamStatus: 'done', status: 'succeeded', outputs: [] };
      },
    });
    const store = new MemoryTaskStore();
    const config = loadConfig({
      GATEWAY_API_KEYS: `${KEY_A},${KEY_B}`,
      STORE_URL: 'memory:',
      LOG_LEVEL: 'info',
    });
    const logs: string[] = [];
    app = await buildApp(config, {
      store,
      poller: false,
      logStream: new Writable({
        write(chunk: Buffer, _enc, done) {
          logs.push(chunk.toString());
          done();
        },
      }),
      providers: new Map([
        [
          'fake',
          {
            adapter: { ...adapterMethods(adapter), close: () => client.close() },
            credentials: [
              { id: 'cred-1', secret: 'routed-secret-one-0123456789' },
              { id: 'cred-2', secret: 'routed-secret-two-0123456789' },
            ],
            strategy: 'first' as const,
            emulated: true,
          },
        ],
      ]),
    });
    await app.ready();
    return { app, adapter, store, logs };
  }

  const createFake = (app: FastifyInstance) =>
    app.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: auth(),
      payload: { model: 'fake/m1', prompt: 'p' },
    });

  it('connection refused on the first credential: the create goes to the second and succeeds', async () => {
    fake = await startFakeUpstream({ kind: 'json', status: 200, body: { ok: true } });
    const refused = `http://127.0.0.1:${await closedPort()}`;
    const { app, adapter, store } = await routedApp({ 'cred-1': refused, 'cred-2': fake.url });
    const res = await createFake(app);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ status: 'succeeded', upstream: { id: 'job-1' } });
    expect(adapter.starts.map((s) => s.credential.id)).toEqual(['cred-1', 'cred-2']);
    expect(fake.calls).toHaveLength(1);
    // The task pins the credential that created the job.
    const stored = await store.get(res.json<{ id: string }>().id);
    expect(stored?.credentialId).toBe('cred-2');
  });

  it('a 5xx on the first credential is never re-sent, not even with the second', async () => {
    fake = await startFakeUpstream({ kind: 'http500' });
    const other = await startFakeUpstream({ kind: 'json', status: 200, body: { ok: true } });
    try {
      const { app, adapter } = await routedApp({ 'cred-1': fake.url, 'cred-2': other.url });
      const res = await createFake(app);
      expect(res.statusCode).toBe(502);
      expect(res.json()).toMatchObject({ code: 'upstream_outcome_unknown' });
      await sleep(200);
      expect(adapter.starts).toHaveLength(1);
      expect(fake.calls).toHaveLength(1);
      expect(other.calls).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it('every credential refused: 503 upstream_unavailable, each tried once', async () => {
    const refused = `http://127.0.0.1:${await closedPort()}`;
    const { app, adapter } = await routedApp({ 'cred-1': refused, 'cred-2': refused });
    const res = await createFake(app);
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'upstream_unavailable' });
    expect(adapter.starts.map((s) => s.credential.id)).toEqual(['cred-1', 'cred-2']);
  });
});

/** The adapter's methods bound to it (so a registration can add its own `close`). */
function adapterMethods(adapter: FakeAdapter) {
  return {
    id: adapter.id,
    models: () => adapter.models(),
    validate: () => adapter.validate(),
    start: (call: StartCall) => adapter.start(call),
    poll: (call: Parameters<FakeAdapter['poll']>[0]) => adapter.poll(call),
  };
}
