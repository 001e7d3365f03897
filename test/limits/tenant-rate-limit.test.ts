import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { KEY_A, KEY_B, auth } from '../helpers/test-app.js';
import { problemOf, sleep, tracker, type Json, type Suite } from '../modelslab/harness.js';

// Per-tenant request limits (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW; tenants[].rate_limit in the
// GATEWAY_CONFIG file) on every authenticated surface.

const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };
const models = (s: Suite, key: string) =>
  s.inject({ method: 'GET', url: '/v1/models', headers: auth(key) });

/** Limit headers of an answer, as numbers. */
const limitHeaders = (res: LightMyRequestResponse) => ({
  limit: Number(res.headers['x-ratelimit-limit']),
  remaining: Number(res.headers['x-ratelimit-remaining']),
  reset: Number(res.headers['x-ratelimit-reset']),
});

function configFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'genway-limits-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe.concurrent('rate limit per gateway key', () => {
  it('tenant A exhausts its limit (429 problem+json, Retry-After, x-ratelimit-*); tenant B is unaffected', async () => {
    const s = await files.start({
      app: { env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW: '1m' } },
    });
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await models(s, KEY_A);
      expect(res.statusCode).toBe(200);
      expect(limitHeaders(res)).toMatchObject({ limit: 3 });
      seen.push(limitHeaders(res).remaining);
    }
    expect(seen).toEqual([2, 1, 0]);

    // Creates count too, and are refused before anything reaches the provider.
    const refused = await s.create('text-to-image', image);
    expect(refused.statusCode).toBe(429);
    const problem = problemOf(refused);
    expect(problem).toMatchObject({
      status: 429,
      code: 'rate_limited',
      type: expect.stringContaining('rate_limited'),
      request_id: refused.headers['x-request-id'],
      detail: expect.stringContaining('3 requests per 1 min'),
    });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limitHeaders(refused)).toEqual({ limit: 3, remaining: 0, reset: retryAfter });
    expect(s.emu.calls).toHaveLength(0);
    const list = await s.inject({ method: 'GET', url: '/v1/tasks', headers: auth(KEY_A) });
    expect(list.statusCode).toBe(429);

    // Tenant B has its own, untouched budget, and can create.
    const b = await models(s, KEY_B);
    expect(b.statusCode).toBe(200);
    expect(limitHeaders(b)).toMatchObject({ limit: 3, remaining: 2 });
    const created = await s.create('text-to-image', image, auth(KEY_B));
    expect(created.statusCode).toBe(201);
    expect(s.emu.creates).toBe(1);
  });

  it('requests without a valid key are answered 401 and never count against a tenant', async () => {
    const s = await files.start({ app: { env: { RATE_LIMIT_MAX: '2' } } });
    for (let i = 0; i < 5; i++) {
      expect((await s.inject({ method: 'GET', url: '/v1/models' })).statusCode).toBe(401);
      const wrong = await s.inject({
        method: 'GET',
        url: '/v1/models',
        headers: auth(`${KEY_A}-wrong`),
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.headers['x-ratelimit-limit']).toBeUndefined();
    }
    const res = await models(s, KEY_A);
    expect(res.statusCode).toBe(200);
    expect(limitHeaders(res)).toMatchObject({ limit: 2, remaining: 1 });
    // Operations routes carry no tenant and are not limited.
    for (let i = 0; i < 5; i++) {
      const ready = await s.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });

  it('one budget per tenant across /v1, /replicate/v1 and /openai/v1, each answering 429 in its own shape', async () => {
    const s = await files.start({ app: { env: { RATE_LIMIT_MAX: '2' } } });
    expect((await models(s, KEY_A)).statusCode).toBe(200);
    const replicateOk = await s.inject({
      method: 'GET',
      url: '/replicate/v1/predictions',
      headers: { authorization: `Token ${KEY_A}` },
    });
    expect(replicateOk.statusCode).toBe(200);
    expect(limitHeaders(replicateOk).remaining).toBe(0);

    const replicate = await s.inject({
      method: 'GET',
      url: '/replicate/v1/predictions',
      headers: { authorization: `Token ${KEY_A}` },
    });
    expect(replicate.statusCode).toBe(429);
    expect(replicate.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(replicate.json<Json>()).toMatchObject({ status: 429, detail: expect.any(String) });
    expect(Number(replicate.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    const openai = await s.inject({ method: 'GET', url: '/openai/v1/videos', headers: auth() });
    expect(openai.statusCode).toBe(429);
    expect(openai.json<Json>()).toMatchObject({
      error: { type: 'rate_limit_error', code: 'rate_limited' },
    });
    expect(Number(openai.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(openai.headers['x-ratelimit-remaining']).toBe('0');
  });

  it('RATE_LIMIT_MAX=0 turns the limit off', async () => {
    const s = await files.start({ app: { env: { RATE_LIMIT_MAX: '0' } } });
    for (let i = 0; i < 30; i++) {
      const res = await models(s, KEY_A);
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });

  it('the window ends: the tenant may send again', async () => {
    const s = await files.start({
      app: { env: { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW: '300ms' } },
    });
    expect((await models(s, KEY_A)).statusCode).toBe(200);
    expect((await models(s, KEY_A)).statusCode).toBe(429);
    await sleep(350);
    expect((await models(s, KEY_A)).statusCode).toBe(200);
  });

  it('per-tenant limits from the GATEWAY_CONFIG file override the default', async () => {
    const small = 'gw_file_tenant_small_0123456789ab';
    const big = 'gw_file_tenant_big_0123456789abcd';
    const file = configFile(
      [
        'tenants:',
        '  - id: small',
        `    keys: ["${small}"]`,
        '    rate_limit: { max: 1, window: 1 minute }',
        '  - id: big',
        `    keys: ["${big}"]`,
        '    rate_limit: { max: 8 }',
        '  - id: unlimited',
        '    keys: ["gw_file_tenant_free_0123456789abc"]',
        '    rate_limit: { max: 0 }',
      ].join('\n'),
    );
    const s = await files.start({
      app: { env: { GATEWAY_CONFIG: file, RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW: '30s' } },
    });
    expect((await models(s, small)).statusCode).toBe(200);
    const refused = await models(s, small);
    expect(refused.statusCode).toBe(429);
    expect(problemOf(refused).detail).toContain('1 request per 1 min');

    for (let i = 0; i < 8; i++) expect((await models(s, big)).statusCode).toBe(200);
    const bigRefused = await models(s, big);
    expect(bigRefused.statusCode).toBe(429);
    // The file gave no window: RATE_LIMIT_WINDOW applies.
    expect(Number(bigRefused.headers['retry-after'])).toBeLessThanOrEqual(30);
    expect(problemOf(bigRefused).detail).toContain('8 requests per 30 s');

    for (let i = 0; i < 12; i++) {
      const free = await models(s, 'gw_file_tenant_free_0123456789abc');
      expect(free.statusCode).toBe(200);
    }
    // Tenants from GATEWAY_API_KEYS keep the env default.
    for (let i = 0; i < 3; i++) expect((await models(s, KEY_A)).statusCode).toBe(200);
    expect((await models(s, KEY_A)).statusCode).toBe(429);
  });
});

describe('rate limit configuration', () => {
  it('reports a bad RATE_LIMIT_WINDOW or RATE_LIMIT_MAX, naming it; defaults 600 per minute', async () => {
    const { loadConfig, ConfigError } = await import('../../src/config/load.js');
    let problems: string[] = [];
    try {
      loadConfig({ RATE_LIMIT_WINDOW: 'fortnight', RATE_LIMIT_MAX: '-2', STORE_URL: 'memory:' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as InstanceType<typeof ConfigError>).problems;
    }
    expect(problems.some((p) => p.startsWith('RATE_LIMIT_WINDOW'))).toBe(true);
    expect(problems.some((p) => p.startsWith('RATE_LIMIT_MAX'))).toBe(true);
    const parsed = loadConfig({
      RATE_LIMIT_MAX: '10',
      RATE_LIMIT_WINDOW: '90s',
      STORE_URL: 'memory:',
    });
    expect(parsed.rateLimit).toEqual({ max: 10, windowMs: 90_000 });
    expect(loadConfig({ STORE_URL: 'memory:' }).rateLimit).toEqual({ max: 600, windowMs: 60_000 });
  });

  it('reports bad per-tenant limits in the file', async () => {
    const { loadConfig, ConfigError } = await import('../../src/config/load.js');
    const file = configFile(
      'tenants:\n  - id: t\n    keys: ["gw_file_tenant_bad_0123456789abcd"]\n    rate_limit: { max: -1, window: soon }\n',
    );
    let problems: string[] = [];
    try {
      loadConfig({ GATEWAY_CONFIG: file, STORE_URL: 'memory:' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as InstanceType<typeof ConfigError>).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^GATEWAY_CONFIG tenants\.0\.rate_limit\.max/),
        expect.stringMatching(/^GATEWAY_CONFIG tenants\.0\.rate_limit\.window/),
      ]),
    );
  });
});
