import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import { KEY_A, buildTestApp } from '../helpers/test-app.js';
import { ADMIN_TOKEN, bearer, startMoneySuite, type Json, type MoneySuite } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'genway-admin-'));
const dbPath = join(dir, 'store.db');
let s: MoneySuite;

beforeAll(async () => {
  s = await startMoneySuite({ store: new SqliteTaskStore(dbPath) });
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const modelsOf = (key: string) =>
  s.inject({ method: 'GET', url: '/v1/models', headers: bearer(key) });

describe('admin API: tenants', () => {
  it('creates, lists, gets, updates and deletes a tenant', async () => {
    const created = await s.admin('POST', '/admin/tenants', {
      id: 'team-a',
      name: 'Team A',
      budget: { limit_usd: 5, period: 'month' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      id: 'team-a',
      object: 'tenant',
      name: 'Team A',
      budget: { limit_usd: 5, period: 'month' },
      rate_limit: null,
    });
    expect((await s.admin('POST', '/admin/tenants', { id: 'team-a' })).json()).toMatchObject({
      status: 409,
      code: 'tenant_exists',
    });
    await s.admin('POST', '/admin/tenants', { id: 'team-b' });
    const list = await s.admin('GET', '/admin/tenants');
    expect(list.json<{ data: Json[] }>().data.map((t) => t.id)).toEqual(['team-a', 'team-b']);
    const patched = await s.admin('PATCH', '/admin/tenants/team-a', {
      budget: null,
      rate_limit: { max: 10, window_seconds: 60 },
    });
    expect(patched.json()).toMatchObject({
      name: 'Team A',
      budget: null,
      rate_limit: { max: 10, window_seconds: 60 },
    });
    expect((await s.admin('GET', '/admin/tenants/team-a')).json()).toEqual(patched.json());
    expect((await s.admin('DELETE', '/admin/tenants/team-b')).statusCode).toBe(200);
    expect((await s.admin('GET', '/admin/tenants/team-b')).statusCode).toBe(404);
    expect((await s.admin('DELETE', '/admin/tenants/team-b')).statusCode).toBe(404);
    const bad = await s.admin('POST', '/admin/tenants', { id: 'a b', budget: { limit_usd: -1 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
  });

  it('refuses a wrong token (401) and a gateway key, and answers 404 without ADMIN_TOKEN', async () => {
    const wrong = await s.inject({
      method: 'GET',
      url: '/admin/tenants',
      headers: bearer('not-the-admin-token-at-all'),
    });
    expect(wrong.statusCode).toBe(401);
    const key = await s.inject({ method: 'GET', url: '/admin/tenants', headers: bearer(KEY_A) });
    expect(key.statusCode).toBe(401);
    // Validation never runs before the token check.
    const unauth = await s.inject({ method: 'POST', url: '/admin/tenants', payload: {} });
    expect(unauth.statusCode).toBe(401);
    const off = await buildTestApp();
    try {
      for (const url of ['/admin/tenants', '/admin/usage', '/admin/tenants/x/keys']) {
        const res = await off.app.inject({ method: 'GET', url, headers: bearer(ADMIN_TOKEN) });
        expect(res.statusCode).toBe(404);
      }
    } finally {
      await off.close();
    }
  });
});

describe('admin API: keys', () => {
  it('shows a key once, stores only its SHA-256, and the key works at once', async () => {
    await s.admin('POST', '/admin/tenants', { id: 'team-k' });
    const created = await s.admin('POST', '/admin/tenants/team-k/keys', {
      name: 'backend',
      models: ['pixverse/*', 'modelslab/sdxl'],
      operations: ['text-to-video'],
    });
    expect(created.statusCode).toBe(201);
    const body = created.json<Json & { key: string; id: string; prefix: string }>();
    expect(body.key).toMatch(/^gk_[A-Za-z0-9_-]{32}$/);
    expect(body).toMatchObject({
      object: 'gateway_key',
      tenant: 'team-k',
      name: 'backend',
      prefix: body.key.slice(0, 7),
      models: ['pixverse/*', 'modelslab/sdxl'],
      operations: ['text-to-video'],
      expires_at: null,
    });
    expect((await modelsOf(body.key)).statusCode).toBe(200);

    // Listed without the key (nor its hash).
    const list = await s.admin('GET', '/admin/tenants/team-k/keys');
    expect(list.body).not.toContain(body.key);
    expect(list.json<{ data: Json[] }>().data).toEqual([
      Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'key')),
    ]);

    // At rest: the hash, never the key (the whole database file, WAL included).
    const hash = createHash('sha256').update(body.key).digest('hex');
    expect((await s.store.admin.keyByHash(hash))?.id).toBe(body.id);
    const db = new Database(dbPath, { readonly: true });
    try {
      const rows = db.prepare('SELECT * FROM admin_keys').all() as { data: string; hash: string }[];
      expect(rows.map((r) => r.hash)).toContain(hash);
      expect(JSON.stringify(rows)).not.toContain(body.key);
    } finally {
      db.close();
    }
    for (const file of readdirSync(dir)) {
      expect(readFileSync(join(dir, file)).includes(body.key)).toBe(false);
    }
  });

  it('revoking a key is effective at once; deleting its tenant revokes the others', async () => {
    await s.admin('POST', '/admin/tenants', { id: 'team-r' });
    const one = (await s.admin('POST', '/admin/tenants/team-r/keys', {})).json<Json>();
    const two = (await s.admin('POST', '/admin/tenants/team-r/keys', {})).json<Json>();
    expect((await modelsOf(one.key as string)).statusCode).toBe(200);
    expect((await s.admin('DELETE', `/admin/keys/${String(one.id)}`)).statusCode).toBe(200);
    const revoked = await modelsOf(one.key as string);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toMatchObject({ code: 'unauthorized' });
    expect((await s.admin('DELETE', `/admin/keys/${String(one.id)}`)).statusCode).toBe(404);
    expect((await modelsOf(two.key as string)).statusCode).toBe(200);
    await s.admin('DELETE', '/admin/tenants/team-r');
    expect((await modelsOf(two.key as string)).statusCode).toBe(401);
  });

  it('an expired key is 401 on every surface', async () => {
    await s.admin('POST', '/admin/tenants', { id: 'team-x' });
    const past = await s.admin('POST', '/admin/tenants/team-x/keys', {
      expires_at: new Date(Date.now() - 1000).toISOString(),
    });
    expect(past.statusCode).toBe(400);
    const soon = new Date(Date.now() + 600).toISOString();
    const key = (await s.admin('POST', '/admin/tenants/team-x/keys', { expires_at: soon })).json<{
      key: string;
      expires_at: string;
    }>();
    expect(key.expires_at).toBe(soon);
    expect((await modelsOf(key.key)).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 700));
    const expired = await modelsOf(key.key);
    expect(expired.statusCode).toBe(401);
    expect(expired.json<Json>().detail).toBe('This gateway key has expired');
    for (const url of ['/replicate/v1/predictions', '/openai/v1/videos']) {
      const res = await s.inject({ method: 'GET', url, headers: bearer(key.key) });
      expect(res.statusCode).toBe(401);
    }
  });

  it('adds keys to a tenant of the configuration; an unknown tenant is 404', async () => {
    const config = s.t.config.tenants[0]!.id;
    const res = await s.admin('POST', `/admin/tenants/${config}/keys`, { name: 'extra' });
    expect(res.statusCode).toBe(201);
    const key = res.json<{ key: string }>().key;
    const mine = await s.inject({ method: 'GET', url: '/v1/tasks', headers: bearer(key) });
    const theirs = await s.inject({ method: 'GET', url: '/v1/tasks', headers: bearer(KEY_A) });
    expect(mine.json()).toEqual(theirs.json());
    expect((await s.admin('POST', '/admin/tenants/nobody/keys', {})).statusCode).toBe(404);
  });

  it("applies an admin tenant's own rate limit to its keys", async () => {
    await s.admin('POST', '/admin/tenants', {
      id: 'team-slow',
      rate_limit: { max: 2, window_seconds: 60 },
    });
    const key = (await s.admin('POST', '/admin/tenants/team-slow/keys', {})).json<{ key: string }>()
      .key;
    expect((await modelsOf(key)).statusCode).toBe(200);
    expect((await modelsOf(key)).statusCode).toBe(200);
    const limited = await modelsOf(key);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'rate_limited' });
    // Other tenants keep the configured limits (none in tests).
    for (let i = 0; i < 3; i++) expect((await modelsOf(KEY_A)).statusCode).toBe(200);
  });
});
