import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { startEmulators, type RunningEmulators } from '../../src/emulators/index.js';
import { settingsIn } from '../../src/providers/provider-module.js';
import { PROVIDERS } from '../../src/providers/registry.js';
import { freePort } from '../callbacks/harness.js';
import { auth, buildTestApp, waitForTerminal, type TestApp } from '../helpers/test-app.js';
import { acme } from './acme/index.js';
import { acmeSignature, startAcmeEmulator, type AcmeEmulator } from './acme/emulator.js';

// Adding a provider: its folder (./acme/) and this one registry line.
const registry = [...PROVIDERS, acme];

const ACME_KEY = 'acme-upstream-key-5d1f9b7e3a';
const ACME_WEBHOOK_SECRET = 'acme-webhook-secret-0c4e8a2f6b';

type Json = Record<string, unknown>;

let t: TestApp | undefined;
let emulator: AcmeEmulator | undefined;
let emulators: RunningEmulators | undefined;
afterEach(async () => {
  await t?.close();
  await emulator?.close();
  await emulators?.close();
  t = emulator = emulators = undefined;
});

const listModels = async (app: TestApp['app']) =>
  (
    (await app.inject({ method: 'GET', url: '/v1/models', headers: auth() })).json() as {
      data: Json[];
    }
  ).data;

const createImage = async (app: TestApp['app']) => {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/text-to-image',
    headers: auth(),
    payload: { model: 'acme', prompt: 'a lighthouse at dusk' },
  });
  expect(res.statusCode).toBe(201);
  return res.json() as Json;
};

describe('a fifth provider, added by its folder and one registry line', () => {
  it('takes its variables, is listed, serves a task and accepts its signed callback', async () => {
    emulator = await startAcmeEmulator({
      apiKey: ACME_KEY,
      webhookSecret: ACME_WEBHOOK_SECRET,
      // Well after genway has recorded the create (a callback never overtakes it here).
      finishAfterMs: 300,
    });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    t = await buildTestApp({
      registry,
      env: {
        ACME_API_KEYS: ACME_KEY,
        ACME_BASE_URL: emulator.url,
        ACME_WEBHOOK_SECRET,
        PUBLIC_URL: url,
        // No poll before the end of the test: the task finishes by its callback.
        POLL_INTERVAL_MS: '60000',
        POLL_MAX_INTERVAL_MS: '60000',
      },
    });
    await t.app.listen({ host: '127.0.0.1', port });

    expect(settingsIn(t.config.providers, 'acme')).toMatchObject({
      baseUrl: emulator.url,
      credentials: [{ id: 'acme-1', secret: ACME_KEY }],
      emulated: false,
      webhookSecret: ACME_WEBHOOK_SECRET,
    });
    expect(t.secrets).toEqual(expect.arrayContaining([ACME_KEY, ACME_WEBHOOK_SECRET]));
    expect(await listModels(t.app)).toContainEqual(
      expect.objectContaining({ id: 'acme/painter', provider: 'acme', emulated: false }),
    );

    const created = await createImage(t.app);
    const task = await waitForTerminal(t.app, String(created.id));
    expect(task).toMatchObject({
      status: 'succeeded',
      provider: 'acme',
      model: 'acme/painter',
      outputs: [expect.objectContaining({ url: `${emulator.url}/files/job_1.png` })],
    });
    // One create and not a single poll: the callback finished the task.
    expect(emulator.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /v1/jobs']);
    // Recorded once genway's answer is read, which may come after the task is done.
    await vi.waitFor(() => expect(emulator?.callbacks).toHaveLength(1));
    expect(emulator.callbacks).toEqual([
      {
        url: `${url}/callbacks/acme/${String(created.id)}`,
        status: 200,
        answer: JSON.stringify({ received: true, applied: true }),
      },
    ]);

    // The generic callback route checks the signature through the adapter.
    const body = JSON.stringify({ id: 'job_1', status: 'done', output: 'https://x.example/a' });
    const forged = await t.app.inject({
      method: 'POST',
      url: `/callbacks/acme/${String(created.id)}`,
      headers: { 'content-type': 'application/json', 'x-acme-signature': '0'.repeat(64) },
      payload: body,
    });
    expect(forged.statusCode).toBe(401);
    const late = await t.app.inject({
      method: 'POST',
      url: `/callbacks/acme/${String(created.id)}`,
      headers: {
        'content-type': 'application/json',
        'x-acme-signature': acmeSignature(ACME_WEBHOOK_SECRET, body),
      },
      payload: body,
    });
    expect(late.json()).toEqual({ received: true, applied: false });
  });

  it('starts its emulator with the others when nothing is configured', async () => {
    emulators = await startEmulators('127.0.0.1', { registry });
    expect(Object.keys(emulators.providers)).toEqual(registry.map((p) => p.id));
    t = await buildTestApp({ registry, providers: emulators.providers });

    expect(await listModels(t.app)).toContainEqual(
      expect.objectContaining({ id: 'acme/painter', emulated: true }),
    );
    const task = await waitForTerminal(t.app, String((await createImage(t.app)).id));
    expect(task.status).toBe('succeeded');
  });

  it('reads its variables and file entry only once it is in the registry', () => {
    const problemsOf = (env: Json, list = registry) => {
      try {
        loadConfig(env as NodeJS.ProcessEnv, list);
        return [];
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
    };
    expect(problemsOf({ ACME_MAX_IN_FLIGHT: 'many', ACME_BASE_URL: 'ftp://x' })).toEqual([
      expect.stringMatching(/^ACME_BASE_URL: /),
      expect.stringMatching(/^ACME_MAX_IN_FLIGHT: /),
    ]);
    expect(problemsOf({ ACME_MAX_IN_FLIGHT: 'many' }, [...PROVIDERS])).toEqual([]);
  });
});
