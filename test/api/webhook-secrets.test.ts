import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { startModelslabEmulator } from '../../src/emulators/modelslab/server.js';
import { secretsOf, tenantIdForKey } from '../../src/config/load.js';
import { deriveTenantWebhookSecret } from '../../src/config/webhook-secrets.js';
import { KEY_A, KEY_B, auth, buildTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Per-tenant webhook signing secrets (architecture §6): each tenant reads its own at
 * `GET /v1/webhooks/secret` (the same as `/replicate/v1/webhooks/default/secret`), derived from
 * WEBHOOK_SECRET or configured per tenant; no key reads another tenant's or the master secret.
 */

const MASTER = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const FILE_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
const KEY_C = 'gw_test_tenant_c_0123456789abcdef';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const get = (app: TestApp, url: string, key: string) =>
  app.app.inject({ method: 'GET', url, headers: auth(key) });

describe('per-tenant webhook secrets', () => {
  it("each tenant reads its own derived secret on both surfaces, never another's", async () => {
    t = await buildTestApp({ env: { WEBHOOK_SECRET: MASTER } });
    const a = await get(t, '/v1/webhooks/secret', KEY_A);
    const b = await get(t, '/v1/webhooks/secret', KEY_B);
    expect(a.statusCode).toBe(200);
    expect(a.headers['cache-control']).toBe('no-store');
    const keyA = a.json<{ key: string }>().key;
    const keyB = b.json<{ key: string }>().key;
    expect(keyA).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(keyA).not.toBe(keyB);
    expect([keyA, keyB]).not.toContain(MASTER);
    expect(keyA).toBe(deriveTenantWebhookSecret(MASTER, tenantIdForKey(KEY_A)));
    expect(a.body).not.toContain(keyB);

    const replicateA = await get(t, '/replicate/v1/webhooks/default/secret', KEY_A);
    expect(replicateA.statusCode).toBe(200);
    expect(replicateA.json()).toEqual({ key: keyA });
    const replicateB = await get(t, '/replicate/v1/webhooks/default/secret', KEY_B);
    expect(replicateB.json()).toEqual({ key: keyB });

    // No key, no secret.
    const anonymous = await t.app.inject({ method: 'GET', url: '/v1/webhooks/secret' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.body).not.toContain('whsec_');

    // Registered as secrets: scrubbed from logs, searched for by the scans.
    expect(secretsOf(t.config)).toEqual(expect.arrayContaining([keyA, keyB, MASTER]));
    expect(t.logs.join('\n')).not.toContain(keyA);
  });

  it('a secret configured per tenant in the file is that tenant’s; others derive theirs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'genway-tenant-secrets-'));
    const file = join(dir, 'gateway.json');
    writeFileSync(
      file,
      JSON.stringify({
        tenants: [
          { id: 'acme', keys: [KEY_C], webhook_secret: FILE_SECRET },
          { id: 'plain', keys: ['gw_test_tenant_d_0123456789abcdef'] },
        ],
      }),
    );
    t = await buildTestApp({ env: { WEBHOOK_SECRET: MASTER, GATEWAY_CONFIG: file } });
    expect((await get(t, '/v1/webhooks/secret', KEY_C)).json()).toEqual({ key: FILE_SECRET });
    const plain = await get(t, '/v1/webhooks/secret', 'gw_test_tenant_d_0123456789abcdef');
    expect(plain.json()).toEqual({ key: deriveTenantWebhookSecret(MASTER, 'plain') });
  });

  it('without any signing secret: 404 on both routes, and webhooks are refused at create', async () => {
    t = await buildTestApp();
    const v1 = await get(t, '/v1/webhooks/secret', KEY_A);
    expect(v1.statusCode).toBe(404);
    expect(v1.json()).toMatchObject({ code: 'not_found' });
    const replicate = await get(t, '/replicate/v1/webhooks/default/secret', KEY_A);
    expect(replicate.statusCode).toBe(404);
    expect(replicate.json()).toMatchObject({ status: 404, title: 'Not found' });
  });

  it('only tenants with a secret may ask for webhooks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'genway-tenant-secrets-'));
    const file = join(dir, 'gateway.json');
    writeFileSync(
      file,
      JSON.stringify({
        tenants: [
          { id: 'signed', keys: [KEY_C], webhook_secret: FILE_SECRET },
          { id: 'unsigned', keys: ['gw_test_tenant_d_0123456789abcdef'] },
        ],
      }),
    );
    const emu = await startModelslabEmulator();
    onTestFinished(() => emu.close());
    t = await buildTestApp({
      env: { GATEWAY_CONFIG: file, OUTBOUND_ALLOWLIST: '127.0.0.1' },
      webhooks: false,
      providers: {
        modelslab: {
          baseUrl: emu.url,
          credentials: [{ id: 'ml-1', secret: 'ml-emulator-key' }],
          emulated: false,
          loadBalancer: true,
          videoPath: '/api/v1/enterprise/video/text2video',
        },
      },
    });
    const create = (key: string) =>
      t!.app.inject({
        method: 'POST',
        url: '/v1/text-to-image',
        headers: auth(key),
        payload: { model: 'modelslab/sdxl', prompt: 'x', webhook: { url: 'http://127.0.0.1:9/h' } },
      });
    const refused = await create('gw_test_tenant_d_0123456789abcdef');
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors[0].path).toBe('webhook');
    expect((await create(KEY_C)).statusCode).toBe(201);
  });
});
