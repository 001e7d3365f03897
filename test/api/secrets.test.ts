import { afterAll, describe, expect, it } from 'vitest';
import { findSecrets } from '../helpers/test-app.js';
import { KEY_A, KEY_B, auth } from '../helpers/test-app.js';
import { ML_BAD_KEY, ML_KEYS, startSuite, type Json, type Suite } from '../modelslab/harness.js';

const suites: Suite[] = [];
afterAll(async () => {
  for (const s of suites) await s.close();
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };

/** Runs a bit of everything a client can do against `s`, successes and failures. */
async function exercise(s: Suite): Promise<void> {
  const creates: Json[] = [];
  for (const outcome of [
    'success',
    { processing: 1, eta: 0 },
    { fail: 'Processing failed', afterFetches: 0 },
    'queue-full',
    'no-credits',
    { http: 500 },
  ] as const) {
    s.emu.scriptNext(outcome);
    const res = await s.create('text-to-image', { ...image, num_outputs: 2 });
    if (res.statusCode === 201) creates.push(res.json<Json>());
  }
  s.emu.scriptNext({ processing: 0, eta: 0 });
  creates.push(
    (
      await s.create('text-to-video', { model: 'modelslab', prompt: 'x' }, { prefer: 'wait=2' })
    ).json<Json>(),
  );
  for (const t of creates) if (typeof t.id === 'string') await s.waitDone(t.id);
  await s.inject({ method: 'GET', url: '/v1/tasks?limit=100', headers: auth(KEY_A) });
  await s.inject({ method: 'GET', url: '/v1/tasks?status=failed', headers: auth(KEY_A) });
  await s.inject({ method: 'GET', url: '/v1/models', headers: auth(KEY_B) });
  if (typeof creates[0]?.id === 'string') {
    await s.inject({ method: 'GET', url: `/v1/tasks/${creates[0].id}`, headers: auth(KEY_B) });
  }
  // Auth failures of every kind.
  await s.inject({ method: 'GET', url: '/v1/tasks' });
  await s.inject({
    method: 'GET',
    url: '/v1/tasks',
    headers: { authorization: `Bearer ${ML_KEYS[0]}` },
  });
  await s.inject({ method: 'GET', url: '/v1/tasks', headers: { authorization: `Basic ${KEY_A}` } });
  await s.inject({
    method: 'GET',
    url: '/v1/tasks',
    headers: { authorization: `Bearer ${KEY_A}x` },
  });
  // Bad input that might echo what was sent.
  await s.create('text-to-image', { ...image, provider_options: { key: ML_KEYS[1] } });
  await s.create('text-to-image', { ...image, key: ML_KEYS[1] });
  await s.inject({
    method: 'POST',
    url: '/v1/text-to-image',
    headers: { ...auth(), 'content-type': 'application/json' },
    payload: `{"model":"modelslab","prompt":"${KEY_B}",`,
  });
  await s.inject({ method: 'GET', url: '/readyz' });
  await s.inject({ method: 'GET', url: '/openapi.json' });
}

// Each test has its own emulator and app: they run concurrently.
describe.concurrent('secrets never leave the gateway', () => {
  it.each(['always-200', 'real'] as const)(
    'across successes, upstream errors and auth failures (HTTP mode %s)',
    async (mode) => {
      const s = await startSuite({
        emulator: { errorHttpStatus: mode },
        credentialSecrets: ML_KEYS,
        settings: { loadBalancer: false },
      });
      suites.push(s);
      await exercise(s);
      expect(s.captured.length).toBeGreaterThan(40);
      // The upstream did see the keys: the scan looks for strings that really were in play.
      expect(new Set(s.emu.keysUsed()).size).toBe(3);
      expect(s.leaks()).toEqual([]);
      expect(findSecrets([...s.captured, ...s.t.logs], [...ML_KEYS, KEY_A, KEY_B])).toEqual([]);
      // Not even scrubbed copies: nothing tried to log a secret.
      expect(s.t.logs.filter((l) => l.includes('[redacted]'))).toEqual([]);
    },
  );

  it.each(['always-200', 'real'] as const)(
    'when the upstream refuses the key (HTTP mode %s)',
    async (mode) => {
      const s = await startSuite({
        emulator: { errorHttpStatus: mode },
        credentialSecrets: [ML_BAD_KEY],
      });
      suites.push(s);
      for (const op of ['text-to-image', 'text-to-video']) {
        const res = await s.create(op, { model: 'modelslab', prompt: 'x' }, { prefer: 'wait=1' });
        expect(res.statusCode).toBe(502);
        expect(res.json<Json>().code).toBe('upstream_auth_failed');
      }
      await s.inject({ method: 'GET', url: '/v1/tasks', headers: auth(KEY_A) });
      expect(s.emu.keysUsed()).toEqual([ML_BAD_KEY, ML_BAD_KEY]);
      expect(findSecrets([...s.captured, ...s.t.logs], [ML_BAD_KEY, KEY_A, KEY_B])).toEqual([]);
      expect(s.leaks()).toEqual([]);
    },
  );
});
