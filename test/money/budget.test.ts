import { afterAll, describe, expect, it } from 'vitest';
import { RedisTaskStore } from '../../src/store/redis-store.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import { REDIS_URL, deleteKeys, testKeyPrefix } from '../helpers/redis.js';
import { SD, bearer, startMoneySuite, type Json, type MoneySuite } from './harness.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A tenant of the configuration file whose budget pays for exactly 10 PixVerse tasks. */
const BUDGET_KEY = 'gw_budgeted_tenant_key_7c3e9a1b5d2f';
const FILE = {
  prices: [
    { model: 'pixverse/*', per_task: 0.1 },
    { model: 'modelslab/*', operation: 'text-to-image', per_image: 0.02 },
    { model: 'replicate/*', per_predict_second: 0.5, estimate_seconds: 1 },
  ],
  tenants: [{ id: 'budgeted', keys: [BUDGET_KEY], budget: { limit_usd: 1, period: 'day' } }],
};

const dir = mkdtempSync(join(tmpdir(), 'genway-budget-'));
const prefix = testKeyPrefix('budget');
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deleteKeys(prefix);
});

const create = (s: MoneySuite, key: string, payload: Json) =>
  s.inject({ method: 'POST', url: '/v1/text-to-video', headers: bearer(key), payload });

/** 50 creates at once, spread over the suites (instances): exactly 10 fit the budget. */
async function race(suites: MoneySuite[]) {
  const emulators = new Set(suites.map((s) => s.px));
  const pixverseCreates = () => [...emulators].reduce((n, px) => n + px.creates, 0);
  const before = pixverseCreates();
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      create(suites[i % suites.length]!, BUDGET_KEY, { model: 'pixverse/v5', prompt: `p${i}` }),
    ),
  );
  const accepted = answers.filter((a) => a.statusCode === 201);
  const refused = answers.filter((a) => a.statusCode === 402);
  expect(accepted).toHaveLength(10);
  expect(refused).toHaveLength(40);
  expect(pixverseCreates() - before).toBe(10);
  expect(refused[0]!.headers['content-type']).toContain('application/problem+json');
  expect(refused[0]!.json()).toMatchObject({ status: 402, code: 'budget_exceeded' });
  expect(refused[0]!.json<Json>().detail).toMatch(
    /budget of tenant budgeted is 1\.00 USD per day; 0\.00 USD is left and this task is estimated at 0\.10 USD/,
  );
  for (const a of accepted) {
    expect(a.json()).toMatchObject({ cost: { currency: 'USD', estimated: 0.1, charged: null } });
  }
  const ids = accepted.map((a) => a.json<{ id: string }>().id);
  const done = await Promise.all(
    ids.map((id, i) => suites[i % suites.length]!.waitDone(id, BUDGET_KEY)),
  );
  for (const task of done)
    expect(task).toMatchObject({ status: 'succeeded', cost: { charged: 0.1 } });
  // Settled, the budget is still spent: the next create is refused, with no upstream call.
  expect(
    (await create(suites[0]!, BUDGET_KEY, { model: 'pixverse/v5', prompt: 'z' })).statusCode,
  ).toBe(402);
  expect(pixverseCreates() - before).toBe(10);
  // Usage from the ledger equals the tasks' charges.
  const usage = await suites[suites.length - 1]!.inject({
    method: 'GET',
    url: '/v1/usage?group_by=model',
    headers: bearer(BUDGET_KEY),
  });
  expect(usage.json()).toEqual({
    data: [{ model: 'pixverse/v5', tasks: 10, succeeded: 10, failed: 0, charged_usd: 1 }],
  });
}

describe('budgets: exactly N of many concurrent creates', () => {
  it('SQLite: 50 concurrent creates against a budget for 10 → 10 accepted, 10 upstream creates', async () => {
    const s = await startMoneySuite({ file: FILE, store: new SqliteTaskStore(join(dir, 'b.db')) });
    try {
      await race([s]);
    } finally {
      await s.close();
    }
  });

  it('Redis, 3 instances on one prefix: the same, over all of them', async () => {
    const suites: MoneySuite[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const store = new RedisTaskStore(REDIS_URL, { keyPrefix: prefix });
        // One gateway: the instances share their upstreams (any of them polls any task).
        suites.push(await startMoneySuite({ file: FILE, store, upstreamsOf: suites[0] }));
      }
      await race(suites);
    } finally {
      for (const s of suites.reverse()) await s.close();
    }
  });
});

describe('charges', () => {
  it('a PixVerse moderation failure is refunded: charged 0 and its reservation released', async () => {
    const s = await startMoneySuite({ file: FILE });
    try {
      const key = await s.tenantKey('team-mod', { budget: { limit_usd: 0.1, period: 'total' } });
      s.px.scriptNext('moderation');
      const first = await create(s, key, { model: 'pixverse/v5', prompt: 'refused' });
      expect(first.statusCode).toBe(201);
      const refused = await s.waitDone(first.json<{ id: string }>().id, key);
      expect(refused).toMatchObject({
        status: 'failed',
        error: { code: 'moderation_failed' },
        cost: { currency: 'USD', estimated: 0.1, charged: 0 },
      });
      // The refunded estimate is free again: one more task fits the budget of exactly one.
      const second = await create(s, key, { model: 'pixverse/v5', prompt: 'fine' });
      expect(second.statusCode).toBe(201);
      await s.waitDone(second.json<{ id: string }>().id, key);
      expect((await create(s, key, { model: 'pixverse/v5', prompt: 'no' })).statusCode).toBe(402);
      const usage = await s.inject({ method: 'GET', url: '/v1/usage', headers: bearer(key) });
      expect(usage.json()).toEqual({
        data: [{ model: 'pixverse/v5', tasks: 2, succeeded: 1, failed: 1, charged_usd: 0.1 }],
      });
    } finally {
      await s.close();
    }
  });

  it('charges actual usage where the upstream reports it; usage sums the charges', async () => {
    const s = await startMoneySuite({ file: FILE });
    try {
      const key = await s.tenantKey('team-mix');
      const ids: string[] = [];
      const start = async (url: string, payload: Json) => {
        const res = await s.inject({ method: 'POST', url, headers: bearer(key), payload });
        expect(res.statusCode).toBe(201);
        ids.push(res.json<{ id: string }>().id);
      };
      await start('/v1/text-to-image', {
        model: 'replicate/stability-ai/stable-diffusion:' + SD,
        prompt: 'a',
      });
      await start('/v1/text-to-image', { model: 'modelslab/sdxl', prompt: 'b', num_outputs: 2 });
      await start('/v1/text-to-video', { model: 'pixverse/v5', prompt: 'c' });
      const tasks = await Promise.all(ids.map((id) => s.waitDone(id, key)));
      const costs = tasks.map((t) => t.cost as { estimated: number; charged: number });
      expect(costs[0]!.estimated).toBe(0.5);
      const prediction = await s.inject({
        method: 'GET',
        url: `/replicate/v1/predictions/${ids[0]}`,
        headers: bearer(key),
      });
      const predictTime = prediction.json<{ metrics: { predict_time: number } }>().metrics
        .predict_time;
      expect(costs[0]!.charged).toBe(Math.round(0.5 * predictTime * 1e6) / 1e6);
      expect(costs[1]).toEqual({ currency: 'USD', estimated: 0.04, charged: 0.04 });
      expect(costs[2]).toEqual({ currency: 'USD', estimated: 0.1, charged: 0.1 });
      const total = costs.reduce((sum, c) => sum + Math.round(c.charged * 1e6), 0) / 1e6;
      const byDay = await s.inject({
        method: 'GET',
        url: '/v1/usage?group_by=day',
        headers: bearer(key),
      });
      const rows = byDay.json<{ data: { tasks: number; charged_usd: number }[] }>().data;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ tasks: 3, charged_usd: total });
      const byKey = await s.inject({
        method: 'GET',
        url: '/v1/usage?group_by=key',
        headers: bearer(key),
      });
      expect(byKey.json<{ data: Json[] }>().data).toEqual([
        expect.objectContaining({ key: expect.stringMatching(/^key_/), tasks: 3 }),
      ]);
      const admin = await s.admin('GET', '/admin/usage?group_by=tenant');
      expect(admin.json()).toEqual({
        data: [{ tenant: 'team-mix', tasks: 3, succeeded: 3, failed: 0, charged_usd: total }],
      });
      const later = await s.admin('GET', '/admin/usage?from=2999-01-01&to=2999-02-01');
      expect(later.json()).toEqual({ data: [] });
      const bad = await s.admin('GET', '/admin/usage?group_by=colour');
      expect(bad.statusCode).toBe(400);
      // /metrics: charged USD by provider and price model; no tenant, no key in any label.
      const metrics = (await s.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toContain(
        'genway_charged_usd_total{provider="pixverse",model="pixverse/*"} 0.1',
      );
      expect(metrics).toContain(
        'genway_charged_usd_total{provider="modelslab",model="modelslab/*"} 0.04',
      );
      expect(metrics).not.toMatch(/team-mix|key_[0-9A-Z]{26}|gk_/);
    } finally {
      await s.close();
    }
  });
});
