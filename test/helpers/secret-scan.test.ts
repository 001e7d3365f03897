import { describe, expect, it } from 'vitest';
import { DEV_GATEWAY_KEY } from '../../src/config/config.js';
import { SecretLeakError, SecretScan, secretsFromEnv, unreportedLeaks } from './secret-scan.js';
import { KEY_A, KEY_B, auth, buildTestApp } from './test-app.js';

const SECRET = 'upstream-secret-0a1b2c3d4e5f6a7b';

describe('the suite-wide secret scan', () => {
  it('finds a secret as written and URL-encoded, and never prints it', () => {
    const scan = new SecretScan('a probe', [
      { label: 'the probe key', value: SECRET },
      { label: 'the webhook secret', value: 'whsec_abc+/def==ghijklmnop' },
      { label: 'the dev key', value: DEV_GATEWAY_KEY },
    ]);
    scan.check('body one', `{"echo":"${SECRET}"}`);
    scan.check('a redirect', `Location: /x?k=${encodeURIComponent('whsec_abc+/def==ghijklmnop')}`);
    scan.check('the dev key is public', `Bearer ${DEV_GATEWAY_KEY}`);
    const leaks = scan.leaks();
    expect(leaks).toHaveLength(2);
    expect(leaks[0]).toContain('body one: the probe key');
    expect(leaks[1]).toContain('a redirect: the webhook secret');
    let error: unknown;
    try {
      scan.assertClean();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SecretLeakError);
    expect(String(error)).not.toContain(SECRET);
    expect(String(error)).not.toContain('abc+/def');
    // Reported once: the setup file does not report it again.
    scan.assertClean();
  });

  it('searches a key issued while the app runs after the answer that showed it', async () => {
    const t = await buildTestApp({ env: { ADMIN_TOKEN: 'admin-token-scan-probe-0123456789' } });
    const admin = { authorization: 'Bearer admin-token-scan-probe-0123456789' };
    await t.app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: admin,
      payload: { id: 'probe' },
    });
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/tenants/probe/keys',
      headers: admin,
      payload: {},
    });
    const key = created.json<{ key: string }>().key;
    // Shown once, where it is created: no leak.
    expect(t.leaks()).toEqual([]);
    t.app.log.info({ echo: key }, 'a careless log line');
    expect(t.leaks()).toEqual([
      expect.stringContaining('a gateway key created through the admin API'),
    ]);
    await expect(t.close()).rejects.toBeInstanceOf(SecretLeakError);
  });

  it('names the secrets of an environment, gateway keys and upstream keys alike', () => {
    const found = secretsFromEnv({
      GATEWAY_API_KEYS: `${KEY_A}, ${KEY_B}`,
      MODELSLAB_API_KEYS: 'ml-one-0123456789,ml-two-0123456789',
      WEBHOOK_SECRET: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg==',
      PORT: '8080',
    }).map((s) => s.value);
    expect(found.sort()).toEqual(
      [
        KEY_A,
        KEY_B,
        'ml-one-0123456789',
        'ml-two-0123456789',
        'whsec_MDEyMzQ1Njc4OWFiY2RlZg==',
      ].sort(),
    );
  });

  it('fails close() of a test app whose response carried a configured key', async () => {
    const t = await buildTestApp();
    // The 404 names the id it was asked for: a key sent as an id comes back (the scan's probe).
    const res = await t.app.inject({ method: 'GET', url: `/v1/tasks/${KEY_B}`, headers: auth() });
    expect(res.statusCode).toBe(404);
    expect(t.leaks()).toEqual([expect.stringContaining('response to GET /v1/tasks/')]);
    const closing = t.close();
    await expect(closing).rejects.toThrow(SecretLeakError);
    await expect(closing).rejects.toThrow(/gateway key of tenant/);
    await expect(closing).rejects.not.toThrow(KEY_B);
    expect(await unreportedLeaks()).toEqual([]);
  });
});
