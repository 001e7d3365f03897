import { afterAll, describe, expect, it } from 'vitest';
import { KEY_A, auth, findSecrets } from '../helpers/test-app.js';
import {
  ML_BAD_KEY,
  ML_KEYS,
  problemOf,
  sleep,
  tracker,
  type Json,
  type Suite,
} from '../modelslab/harness.js';

// Credential health: a circuit breaker per upstream credential, failover of creates the
// provider refused for the credential itself, and what /readyz and the admin view show.

const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };
const ADMIN_TOKEN = 'admin-token-0123456789abcdef0123';
const TWO = [ML_KEYS[0], ML_KEYS[1]];
const COOL_DOWN_MS = 1500;

async function ready(s: Suite): Promise<Json[]> {
  const res = await s.inject({ method: 'GET', url: '/readyz' });
  expect(res.statusCode).toBe(200);
  return res.json<{ credentials: Record<string, Json[]> }>().credentials.modelslab as Json[];
}
const states = async (s: Suite) => (await ready(s)).map((c) => `${c.id}:${c.state}`);

/** Log lines (parsed) whose text contains `needle`. */
const logLines = (s: Suite, needle: string) =>
  s.t.logs.filter((l) => l.includes(needle)).map((l) => JSON.parse(l) as Json);
/** The operator alerts (level error) about `code`. */
const alertsOf = (s: Suite, code: string) =>
  logLines(s, code).filter((l) => l.level === 50 && l.code === code);

describe.concurrent('credential health', () => {
  it('the first of two credentials gets 401: the request succeeds on the second, later creates go straight there, the operator is told once', async () => {
    // The emulator knows only the second key: the first is "revoked".
    const s = await files.start({
      credentialSecrets: TWO,
      emulator: { apiKeys: [ML_KEYS[1]], errorHttpStatus: 'real' },
      app: { env: { CREDENTIAL_COOLDOWN_MS: '60000' } },
    });
    const res = await s.create('text-to-image', image);
    expect(res.statusCode).toBe(201);
    expect(res.json<Json>()).toMatchObject({ status: 'succeeded', error: null });
    expect(s.emu.keysUsed()).toEqual([ML_KEYS[0], ML_KEYS[1]]);
    expect(await ready(s)).toEqual([
      { id: 'modelslab-1', state: 'open', in_flight: 0, cap: 5 },
      { id: 'modelslab-2', state: 'closed', in_flight: 0, cap: 5 },
    ]);
    const mentions = logLines(s, 'upstream_auth_failed').length;

    for (let i = 0; i < 4; i++) {
      const again = await s.create('text-to-image', image);
      expect(again.statusCode).toBe(201);
    }
    // Straight to the second: the first key was not tried again.
    expect(s.emu.keysUsed()).toEqual([ML_KEYS[0], ...Array(5).fill(ML_KEYS[1])]);

    // Nothing more was logged about the 401 however many requests followed.
    expect(logLines(s, 'upstream_auth_failed')).toHaveLength(mentions);
    const alerts = alertsOf(s, 'upstream_auth_failed');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      level: 50,
      credential: 'modelslab-1',
      provider: 'modelslab',
    });
    expect(String(alerts[0]?.msg)).toMatch(/refused the credential.*out of rotation/);
    // No task failed: the create that met the refusal was served by the second credential.
    const failed = await s.inject({
      method: 'GET',
      url: '/v1/tasks?status=failed',
      headers: auth(KEY_A),
    });
    expect(failed.json<{ data: Json[] }>().data).toEqual([]);
    expect(findSecrets([...s.captured, ...s.t.logs], TWO)).toEqual([]);
  });

  it('credits exhausted on the first credential: same failover, one alert about credits', async () => {
    const s = await files.start({
      credentialSecrets: TWO,
      app: { env: { CREDENTIAL_COOLDOWN_MS: '60000' } },
    });
    s.emu.scriptNext('no-credits');
    const res = await s.create('text-to-image', image);
    expect(res.statusCode).toBe(201);
    expect(s.emu.keysUsed()).toEqual([ML_KEYS[0], ML_KEYS[1]]);
    expect(await states(s)).toEqual(['modelslab-1:open', 'modelslab-2:closed']);
    const mentions = logLines(s, 'upstream_credits_exhausted').length;
    await s.create('text-to-image', image);
    expect(logLines(s, 'upstream_credits_exhausted')).toHaveLength(mentions);
    const alerts = alertsOf(s, 'upstream_credits_exhausted');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ level: 50, credential: 'modelslab-1' });
    expect(String(alerts[0]?.msg)).toContain('no credits');
  });

  it('all credentials out of rotation → 503 no_credential_available with Retry-After, nothing sent', async () => {
    const s = await files.start({
      credentialSecrets: TWO,
      emulator: { apiKeys: [ML_KEYS[2]] },
      app: { env: { CREDENTIAL_COOLDOWN_MS: '60000' } },
    });
    // The create that finds out: both keys tried, the provider's answer is reported.
    const first = await s.create('text-to-image', image);
    expect(first.statusCode).toBe(502);
    expect(problemOf(first).code).toBe('upstream_auth_failed');
    expect(s.emu.keysUsed()).toEqual(TWO);
    expect(await states(s)).toEqual(['modelslab-1:open', 'modelslab-2:open']);

    for (let i = 0; i < 3; i++) {
      const res = await s.create('text-to-image', image);
      expect(res.statusCode).toBe(503);
      expect(problemOf(res)).toMatchObject({
        code: 'no_credential_available',
        detail: expect.stringContaining('out of rotation'),
      });
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(50);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    expect(s.emu.calls).toHaveLength(2);
    // One alert per credential, not per request.
    expect(logLines(s, 'refused the credential').map((l) => l.credential)).toEqual([
      'modelslab-1',
      'modelslab-2',
    ]);
  });

  it('after the cool-down a half-open trial closes the circuit once the credential works again', async () => {
    const accepted: string[] = [ML_KEYS[1]]; // the emulator reads this list on every call
    const s = await files.start({
      credentialSecrets: TWO,
      emulator: { apiKeys: accepted },
      // Long enough that a loaded machine still sees `open` right after a refusal.
      app: { env: { CREDENTIAL_COOLDOWN_MS: String(COOL_DOWN_MS) } },
    });
    expect((await s.create('text-to-image', image)).statusCode).toBe(201);
    expect(await states(s)).toEqual(['modelslab-1:open', 'modelslab-2:closed']);
    await sleep(COOL_DOWN_MS + 50);
    expect(await states(s)).toEqual(['modelslab-1:half_open', 'modelslab-2:closed']);

    // Still refused: the trial fails, the create is served by the second, no second alert.
    expect((await s.create('text-to-image', image)).statusCode).toBe(201);
    expect(s.emu.keysUsed().slice(2)).toEqual(TWO);
    expect(await states(s)).toEqual(['modelslab-1:open', 'modelslab-2:closed']);
    expect(alertsOf(s, 'upstream_auth_failed')).toHaveLength(1);

    // The operator fixed the key: the next trial succeeds and closes the circuit.
    accepted.push(ML_KEYS[0]);
    await sleep(COOL_DOWN_MS + 50);
    expect((await s.create('text-to-image', image)).statusCode).toBe(201);
    expect(s.emu.keysUsed().at(-1)).toBe(ML_KEYS[0]);
    expect(await states(s)).toEqual(['modelslab-1:closed', 'modelslab-2:closed']);
    expect(logLines(s, 'back in rotation')).toHaveLength(1);
    expect((await s.create('text-to-image', image)).statusCode).toBe(201);
    expect(s.emu.keysUsed().at(-1)).toBe(ML_KEYS[0]); // `first` strategy: the first again
  });

  it('consecutive upstream failures take a credential out at CREDENTIAL_FAILURE_THRESHOLD', async () => {
    const s = await files.start({
      credentialSecrets: TWO,
      app: { env: { CREDENTIAL_FAILURE_THRESHOLD: '3', CREDENTIAL_COOLDOWN_MS: '60000' } },
    });
    for (let i = 0; i < 3; i++) {
      s.emu.scriptNext({ http: 500 });
      // A 5xx may have started a job: never re-sent, the caller gets the failure.
      expect((await s.create('text-to-image', image)).statusCode).toBe(502);
    }
    expect(s.emu.keysUsed()).toEqual(Array(3).fill(ML_KEYS[0]));
    expect(await states(s)).toEqual(['modelslab-1:open', 'modelslab-2:closed']);
    expect((await s.create('text-to-image', image)).statusCode).toBe(201);
    expect(s.emu.keysUsed().at(-1)).toBe(ML_KEYS[1]);
    const warnings = logLines(s, 'failed repeatedly');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: 40,
      credential: 'modelslab-1',
      consecutiveFailures: 3,
    });
  });

  it('a single credential refused by the provider: 502 once, then 503 until its trial', async () => {
    const s = await files.start({
      credentialSecrets: [ML_BAD_KEY],
      app: { env: { CREDENTIAL_COOLDOWN_MS: '60000' } },
    });
    expect(problemOf(await s.create('text-to-image', image)).code).toBe('upstream_auth_failed');
    expect(problemOf(await s.create('text-to-image', image)).code).toBe('no_credential_available');
    expect(s.emu.keysUsed()).toEqual([ML_BAD_KEY]);
  });
});

describe.concurrent('GET /admin/credentials', () => {
  it('with ADMIN_TOKEN: state, load, failure counts and last error per credential; never a secret', async () => {
    const s = await files.start({
      credentialSecrets: TWO,
      emulator: { apiKeys: [ML_KEYS[1]] },
      app: { env: { ADMIN_TOKEN, CREDENTIAL_COOLDOWN_MS: '60000', QUEUE_MAX: '7' } },
    });
    expect((await s.create('text-to-image', image)).statusCode).toBe(201);

    const none = await s.inject({ method: 'GET', url: '/admin/credentials' });
    expect(none.statusCode).toBe(401);
    expect(problemOf(none).code).toBe('unauthorized');
    const gatewayKey = await s.inject({
      method: 'GET',
      url: '/admin/credentials',
      headers: auth(),
    });
    expect(gatewayKey.statusCode).toBe(401);

    const res = await s.inject({
      method: 'GET',
      url: '/admin/credentials',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ providers: Record<string, { queue: Json; credentials: Json[] }> }>();
    expect(body.providers.modelslab?.queue).toEqual({ waiting: 0, max: 7, wait_ms: 10_000 });
    expect(body.providers.modelslab?.credentials).toEqual([
      {
        id: 'modelslab-1',
        state: 'open',
        in_flight: 0,
        cap: 5,
        consecutive_failures: 1,
        total_failures: 1,
        last_error_code: 'upstream_auth_failed',
        last_error_at: expect.any(String),
        open_until: expect.any(String),
      },
      {
        id: 'modelslab-2',
        state: 'closed',
        in_flight: 0,
        cap: 5,
        consecutive_failures: 0,
        total_failures: 0,
        last_error_code: null,
        last_error_at: null,
        open_until: null,
      },
    ]);
    const openUntil = Date.parse(String(body.providers.modelslab?.credentials[0]?.open_until));
    expect(openUntil - Date.now()).toBeGreaterThan(50_000);
    expect(findSecrets([res.body, ...s.t.logs], [...TWO, ADMIN_TOKEN])).toEqual([]);
  });

  it('without ADMIN_TOKEN the route is off (404, like an unknown route)', async () => {
    const s = await files.start();
    const res = await s.inject({
      method: 'GET',
      url: '/admin/credentials',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.statusCode).toBe(404);
    expect(problemOf(res).code).toBe('not_found');
  });
});
