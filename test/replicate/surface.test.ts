import { afterEach, describe, expect, it } from 'vitest';
import { KEY_A, KEY_B } from '../helpers/test-app.js';
import {
  LAYOUTS,
  SD,
  SD_REF,
  callsTo,
  startReplicateSuite,
  type Json,
  type ReplicateSuite,
  type ReplicateSuiteOptions,
} from './harness.js';

/** genway's `/replicate/v1` driven by plain HTTP (inject): shapes, auth, tenants, errors. */

let suite: ReplicateSuite | undefined;
afterEach(async () => {
  await suite?.close();
  suite = undefined;
});

const R = '/replicate/v1';

function api(s: ReplicateSuite) {
  const call = (
    method: 'GET' | 'POST',
    path: string,
    opts: {
      key?: string | null;
      scheme?: string;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const key = opts.key === undefined ? KEY_A : opts.key;
    return s.inject({
      method,
      url: `${R}${path}`,
      headers: {
        host: 'gw.test:8443',
        ...(key === null ? {} : { authorization: `${opts.scheme ?? 'Bearer'} ${key}` }),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined
        ? { payload: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }
        : {}),
    });
  };
  return {
    call,
    create: (body: unknown, opts: Parameters<typeof call>[2] = {}) =>
      call('POST', '/predictions', { ...opts, body }),
  };
}

const expectReplicateProblem = (
  res: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
  status: number,
) => {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json() as Json;
  expect(body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  expect(Object.keys(body).sort()).toEqual(
    ['detail', 'status', 'title', ...('invalid_fields' in body ? ['invalid_fields'] : [])].sort(),
  );
  return body;
};

async function startSuite(prefix: string, opts: ReplicateSuiteOptions = {}) {
  suite = await startReplicateSuite({ prefix, ...opts });
  return { s: suite, ...api(suite) };
}

describe.each(LAYOUTS)('/replicate/v1 over HTTP (emulator at %s)', (prefix) => {
  it('authenticates gateway keys as Bearer or Token, in Replicate’s 401 shape otherwise', async () => {
    const { call, create } = await startSuite(prefix);
    const none = await call('GET', '/predictions', { key: null });
    expect(expectReplicateProblem(none, 401)).toEqual({
      title: 'Unauthenticated',
      detail: 'You did not pass an authentication token',
      status: 401,
    });
    const bad = await call('GET', '/predictions', { key: 'r8_not_a_gateway_key' });
    expect(expectReplicateProblem(bad, 401).detail).toBe(
      'You did not pass a valid authentication token',
    );
    // The upstream token is not a gateway key.
    const upstream = await call('GET', '/predictions', {
      key: 'r8_upstream_token_5c1e9a7b3d2f4e6a8b0c',
    });
    expect(upstream.statusCode).toBe(401);

    const token = await create({ version: SD, input: { prompt: 'x' } }, { scheme: 'Token' });
    expect(token.statusCode).toBe(201);
    expect((await call('GET', '/predictions', { scheme: 'Token' })).statusCode).toBe(200);
  });

  it('answers Replicate prediction objects whose urls point at genway only', async () => {
    const { s, create, call } = await startSuite(prefix);
    const res = await create({ version: SD_REF, input: { prompt: 'x', width: 512 } });
    expect(res.statusCode).toBe(201);
    const p = res.json() as Json;
    const base = `http://gw.test:8443${R}`;
    expect(res.headers.location).toBe(`${base}/predictions/${p.id as string}`);
    // How far the emulated job got within the create's short wait depends on the machine's
    // load: its progress fields are checked for their type only.
    const { logs, started_at: startedAt, status, ...rest } = p;
    expect(typeof logs).toBe('string');
    expect(startedAt === null || typeof startedAt === 'string').toBe(true);
    expect(status).toMatch(/^(starting|processing)$/);
    expect(rest).toEqual({
      id: expect.stringMatching(/^task_[0-9A-Z]{26}$/),
      model: 'stability-ai/stable-diffusion',
      version: SD,
      input: { prompt: 'x', width: 512 },
      output: null,
      error: null,
      source: 'api',
      data_removed: false,
      created_at: expect.any(String),
      completed_at: null,
      deadline: null,
      urls: {
        get: `${base}/predictions/${p.id as string}`,
        cancel: `${base}/predictions/${p.id as string}/cancel`,
        web: `http://gw.test:8443/v1/tasks/${p.id as string}`,
      },
    });
    const done = await s.waitDone(p.id as string);
    expect(done.status).toBe('succeeded');
    const got = (await call('GET', `/predictions/${p.id as string}`)).json() as Json;
    expect(got).toMatchObject({
      status: 'succeeded',
      output: (done.outputs as { url: string }[]).map((o) => o.url),
      metrics: { total_time: expect.any(Number) },
      completed_at: expect.any(String),
    });
    expect(got.logs).toContain('100%|');
    const text = JSON.stringify(got);
    expect(text).not.toContain(s.emu.baseUrl);
    expect(text).not.toContain((done.upstream as Json).id as string);
    expect(s.leaks()).toEqual([]);
  });

  it('builds links from PUBLIC_URL when configured', async () => {
    const { create, call } = await startSuite(prefix, {
      app: { env: { PUBLIC_URL: 'https://genway.example.com' } },
    });
    const p = (await create({ version: SD, input: { prompt: 'x' } })).json() as Json;
    expect((p.urls as Json).get).toBe(
      `https://genway.example.com${R}/predictions/${p.id as string}`,
    );
    await create({ version: SD, input: { prompt: 'y' } });
    const list = (await call('GET', '/predictions?page_size=1')).json() as Json;
    expect(list.next).toMatch(
      /^https:\/\/genway\.example\.com\/replicate\/v1\/predictions\?cursor=task_/,
    );
  });

  it('Prefer: wait holds the create until done (201), or answers `starting` with 202', async () => {
    const quick = await startSuite(prefix);
    const done = await quick.create(
      { version: SD, input: { prompt: 'x' } },
      { headers: { prefer: 'wait=10' } },
    );
    expect(done.statusCode).toBe(201);
    expect(done.headers['preference-applied']).toBe('wait=10');
    expect((done.json() as Json).status).toBe('succeeded');
    expect((done.json() as Json).output).toHaveLength(1);
    await quick.s.close();

    const slow = await startSuite(prefix, {
      emulator: { pollsStarting: 3, pollsProcessing: 1_000_000 },
    });
    const startedAt = Date.now();
    const held = await slow.create(
      { version: SD, input: { prompt: 'x' } },
      { headers: { prefer: 'wait=1' } },
    );
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
    expect(held.statusCode).toBe(202);
    // The task may be processing by now; a create answer still says `starting`, so that the
    // official client's run() keeps polling instead of returning a null output.
    const p = held.json() as Json;
    expect(p.status).toBe('starting');
    // GET speaks the real state: `processing` once genway's poller has seen it start.
    let got: Json = {};
    for (let i = 0; i < 50 && got.status !== 'processing'; i++) {
      got = (await slow.call('GET', `/predictions/${p.id as string}`)).json() as Json;
      if (got.status !== 'processing') await new Promise((r) => setTimeout(r, 100));
    }
    expect(got.status).toBe('processing');
  });

  it('keeps tenants apart: KEY_B cannot get, cancel or list KEY_A’s predictions', async () => {
    const { s, create, call } = await startSuite(prefix, {
      emulator: { pollsStarting: 1_000_000 },
    });
    const a = (await create({ version: SD, input: { prompt: 'a' } })).json() as Json;
    const b = (
      await create({ version: SD, input: { prompt: 'b' } }, { key: KEY_B })
    ).json() as Json;
    const id = a.id as string;
    expectReplicateProblem(await call('GET', `/predictions/${id}`, { key: KEY_B }), 404);
    expectReplicateProblem(await call('POST', `/predictions/${id}/cancel`, { key: KEY_B }), 404);
    expect(callsTo(s.emu, 'POST', /\/cancel$/)).toHaveLength(0);
    const listB = (await call('GET', '/predictions', { key: KEY_B })).json() as { results: Json[] };
    expect(listB.results.map((p) => p.id)).toEqual([b.id]);
    const listA = (await call('GET', '/predictions')).json() as { results: Json[] };
    expect(listA.results.map((p) => p.id)).toEqual([id]);
    expect((await call('GET', `/predictions/${id}`)).statusCode).toBe(200);
    // The owner can cancel (empty JSON body, like the official client).
    const canceled = await call('POST', `/predictions/${id}/cancel`, { body: '' });
    expect(canceled.statusCode).toBe(200);
    expect((canceled.json() as Json).status).toBe('canceled');
  });

  it('validates ids, bodies and versions in Replicate’s shape, before any upstream call', async () => {
    const { s, create, call } = await startSuite(prefix);
    expectReplicateProblem(await call('GET', '/predictions/..%2Fmodels'), 404);
    expectReplicateProblem(await call('GET', `/predictions/${'a'.repeat(65)}`), 404);
    // Router-level refusals (over-long or undecodable path) keep this surface's shape too.
    expectReplicateProblem(await call('GET', `/predictions/${'a'.repeat(300)}`), 400);
    expectReplicateProblem(await call('GET', '/predictions/%E0%A4%A'), 400);
    expectReplicateProblem(await call('GET', '/predictions/task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B'), 404);
    expectReplicateProblem(await call('POST', '/predictions/bad%20id/cancel'), 404);
    expectReplicateProblem(await call('GET', '/nothing-here'), 404);

    const extra = expectReplicateProblem(await create({ version: SD, input: {}, extra: 1 }), 422);
    expect(extra.title).toBe('Input validation failed');
    expect(extra.invalid_fields).toEqual([expect.objectContaining({ field: 'extra' })]);
    const noInput = expectReplicateProblem(await create({ version: SD }), 422);
    expect(JSON.stringify(noInput.invalid_fields)).toContain('input');
    expectReplicateProblem(await create('{"version":'), 400);
    const badRef = expectReplicateProblem(
      await create({ version: 'not a version!', input: {} }),
      422,
    );
    expect(badRef.title).toBe('Invalid version or not permitted');
    const hook = expectReplicateProblem(
      await create({ version: SD, input: {}, webhook: 'https://example.com/hook' }),
      422,
    );
    expect(hook.detail).toContain('webhook');
    expectReplicateProblem(await call('GET', '/predictions?cursor=zzz'), 400);
    expect(s.emu.calls).toHaveLength(0);
  });

  it('passes the upstream’s refusals on: unknown version 422 with detail, unknown model', async () => {
    const { s, create, call } = await startSuite(prefix);
    const unknown = expectReplicateProblem(
      await create({ version: '1'.repeat(64), input: { prompt: 'x' } }),
      422,
    );
    expect(unknown.detail).toContain('The specified version does not exist');
    const model = await call('POST', '/models/nobody/nothing/predictions', { body: { input: {} } });
    expect(model.statusCode).toBeGreaterThanOrEqual(400);
    expect(model.statusCode).toBeLessThan(500);
    expect((model.json() as Json).detail).toContain('Not found');
    s.emu.failNext({ kind: 'http402' });
    const billing = expectReplicateProblem(await create({ version: SD, input: {} }), 502);
    expect(billing.detail).toContain('Billing required');
    expect(s.leaks()).toEqual([]);
  });

  it('takes data: URI inputs of several MB and passes them on as they are', async () => {
    const { s, create } = await startSuite(prefix);
    const image = `data:image/png;base64,${Buffer.alloc(4 * 1024 * 1024, 7).toString('base64')}`;
    const res = await create(
      { version: SD, input: { prompt: 'x', image } },
      { headers: { prefer: 'wait=10' } },
    );
    expect(res.statusCode).toBe(201);
    const p = res.json() as Json;
    expect(p.status).toBe('succeeded');
    // genway does not keep multi-MB strings on the task; the upstream got the whole input.
    expect((p.input as Json).image).toMatch(/^\[\d+ characters not kept by genway\]$/);
    const sent = callsTo(s.emu, 'POST', /\/predictions$/)[0]?.body as { input: Json };
    expect(sent.input.image).toBe(image);
  });

  it('shows replicate tasks created on the normalized surface too', async () => {
    const { s, call } = await startSuite(prefix);
    const task = (
      await s.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'hi', steps: 20 })
    ).json() as Json;
    await s.waitDone(task.id as string);
    const p = (await call('GET', `/predictions/${task.id as string}`)).json() as Json;
    expect(p).toMatchObject({
      id: task.id,
      status: 'succeeded',
      version: SD,
      input: { prompt: 'hi', num_inference_steps: 20 },
    });
    expect(p.output).toHaveLength(1);
  });
});
