import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_A, KEY_B, auth } from '../helpers/test-app.js';
import { problemOf, startSuite, type Json, type Suite } from '../modelslab/harness.js';

let s: Suite;
beforeAll(async () => {
  s = await startSuite();
});
afterAll(async () => {
  expect(s.leaks()).toEqual([]);
  await s.close();
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };
const withoutRequestId = (p: Json): Json => ({ ...p, request_id: undefined });

describe('gateway authentication', () => {
  it('missing Authorization → 401 problem with WWW-Authenticate, no upstream call', async () => {
    const calls = s.emu.calls.length;
    const res = await s.inject({ method: 'POST', url: '/v1/text-to-image', payload: image });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(problemOf(res)).toMatchObject({
      status: 401,
      code: 'unauthorized',
      request_id: res.headers['x-request-id'],
    });
    expect(s.emu.calls.length).toBe(calls);
  });

  it.each([
    ['a wrong key', 'Bearer gw_not_a_key_0123456789abcdef'],
    ['an empty bearer', 'Bearer '],
    ['Basic auth', `Basic ${Buffer.from(`${KEY_A}:`).toString('base64')}`],
    ['the key without a scheme', KEY_A],
    ['the key with a suffix', `Bearer ${KEY_A}x`],
    ['an upstream key', 'Bearer ml-upstream-key-one-7f3a9c1e5b2d4a6f'],
  ])('%s → 401', async (_name, authorization) => {
    for (const [method, url] of [
      ['GET', '/v1/tasks'],
      ['GET', '/v1/models'],
      ['GET', '/v1/tasks/task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B'],
      ['POST', '/v1/text-to-video'],
    ] as const) {
      const res = await s.inject({ method, url, headers: { authorization }, payload: image });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(problemOf(res).code).toBe('unauthorized');
    }
  });

  it('the error does not echo the key that was sent', async () => {
    const sent = 'gw_wrong_but_secret_looking_0123456789';
    const res = await s.inject({
      method: 'GET',
      url: '/v1/tasks',
      headers: { authorization: `Bearer ${sent}` },
    });
    expect(res.body).not.toContain(sent);
    expect(s.t.logs.join('\n')).not.toContain(sent);
  });

  // Documented finding: `Token <key>` (the Replicate client's scheme) is accepted as well as
  // `Bearer <key>`; scheme matching is case-insensitive.
  it.each([`Token ${KEY_A}`, `bearer ${KEY_A}`, `Bearer   ${KEY_A}  `])(
    'Authorization "%s" is accepted',
    async (authorization) => {
      const res = await s.inject({ method: 'GET', url: '/v1/tasks', headers: { authorization } });
      expect(res.statusCode).toBe(200);
    },
  );

  it('/healthz is public', async () => {
    const res = await s.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });
});

describe('tenants', () => {
  it("another tenant's task is a 404 shaped exactly like an unknown id", async () => {
    const created = (await s.create('text-to-image', image)).json<Json>();
    const id = created.id as string;
    expect((await s.getTask(id, KEY_A)).id).toBe(id);

    const foreign = await s.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: auth(KEY_B) });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.body).not.toContain(String((created.upstream as Json).id));
    expect(foreign.body).not.toContain('succeeded');

    // Same shape as a task that never existed (the id itself differs, of course).
    const otherId = `${id.slice(0, -1)}${id.endsWith('Z') ? 'Y' : 'Z'}`;
    const unknown = await s.inject({
      method: 'GET',
      url: `/v1/tasks/${otherId}`,
      headers: auth(KEY_B),
    });
    expect(unknown.statusCode).toBe(404);
    const a = withoutRequestId(problemOf(foreign));
    const b = withoutRequestId(problemOf(unknown));
    expect({ ...a, detail: String(a.detail).replace(id, '<id>') }).toEqual({
      ...b,
      detail: String(b.detail).replace(otherId, '<id>'),
    });
    expect(Object.keys(foreign.headers).sort()).toEqual(Object.keys(unknown.headers).sort());

    // Long-polling someone else's task is a 404 too, at once.
    const waited = await s.inject({
      method: 'GET',
      url: `/v1/tasks/${id}?wait=5`,
      headers: auth(KEY_B),
    });
    expect(waited.statusCode).toBe(404);

    // And B's list does not show it.
    const listB = await s.inject({
      method: 'GET',
      url: '/v1/tasks?limit=100',
      headers: auth(KEY_B),
    });
    expect(listB.json<{ data: Json[] }>().data.map((t) => t.id)).not.toContain(id);
    const listA = await s.inject({
      method: 'GET',
      url: '/v1/tasks?limit=100',
      headers: auth(KEY_A),
    });
    expect(listA.json<{ data: Json[] }>().data.map((t) => t.id)).toContain(id);
  });

  it('lists newest first, paginates with a cursor, filters by status', async () => {
    // A fresh tenant-B history: 5 succeeded, 1 failed, 1 running.
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await s.create(
        'text-to-image',
        { ...image, metadata: { n: String(i) } },
        auth(KEY_B),
      );
      ids.push(res.json<Json>().id as string);
    }
    s.emu.scriptNext('no-credits');
    expect((await s.create('text-to-image', image, auth(KEY_B))).statusCode).toBe(502);
    s.emu.scriptNext({ processing: 1000, eta: 60 });
    const running = (await s.create('text-to-image', image, auth(KEY_B))).json<Json>();
    expect(running.status).toBe('running');

    const page = async (query: string) => {
      const res = await s.inject({
        method: 'GET',
        url: `/v1/tasks?${query}`,
        headers: auth(KEY_B),
      });
      expect(res.statusCode).toBe(200);
      return res.json<{ object: string; data: Json[]; next_cursor: string | null }>();
    };

    const all = await page('limit=100');
    expect(all.object).toBe('list');
    expect(all.next_cursor).toBeNull();
    expect(all.data).toHaveLength(7);
    const created = all.data.map((t) => Date.parse(t.created_at as string));
    expect([...created].sort((x, y) => y - x)).toEqual(created);
    expect(all.data[0]!.id).toBe(running.id);
    expect(all.data[1]!.status).toBe('failed');

    // Pages of 3, following next_cursor, give the same order without gaps or repeats.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const p = await page(`limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(p.data.length).toBeLessThanOrEqual(3);
      seen.push(...p.data.map((t) => t.id as string));
      cursor = p.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(all.data.map((t) => t.id));

    const succeeded = await page('status=succeeded&limit=2');
    expect(succeeded.data.map((t) => t.id)).toEqual([ids[4], ids[3]]);
    expect(succeeded.next_cursor).toBe(ids[3]);
    const rest = await page(`status=succeeded&limit=10&cursor=${succeeded.next_cursor}`);
    expect(rest.data.map((t) => t.id)).toEqual([ids[2], ids[1], ids[0]]);
    expect(rest.next_cursor).toBeNull();

    expect((await page('status=failed')).data).toHaveLength(1);
    expect((await page('status=running')).data.map((t) => t.id)).toEqual([running.id]);
    expect((await page('status=canceled')).data).toEqual([]);

    // A's list is untouched by B's history.
    const listA = await s.inject({
      method: 'GET',
      url: '/v1/tasks?limit=100',
      headers: auth(KEY_A),
    });
    for (const t of listA.json<{ data: Json[] }>().data) expect(ids).not.toContain(t.id);
  });
});
