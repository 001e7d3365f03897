import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_A, auth } from '../helpers/test-app.js';
import { problemOf, startSuite, type Json, type Suite } from '../modelslab/harness.js';

let s: Suite;
let big: Suite;
beforeAll(async () => {
  s = await startSuite();
  big = await startSuite({ app: { env: { BODY_LIMIT_BYTES: '1024' } } });
});
afterAll(async () => {
  expect(s.leaks()).toEqual([]);
  expect(big.leaks()).toEqual([]);
  await s.close();
  await big.close();
});

const post = (payload: unknown, url = '/v1/text-to-image', suite = s) =>
  suite.inject({ method: 'POST', url, headers: auth(KEY_A), payload: payload as Json });

/** A 4xx problem+json with a code and the request id; field errors checked by the caller. */
function expectProblem(res: LightMyRequestResponse, status: number, code: string): Json {
  expect(res.statusCode, res.body).toBe(status);
  const problem = problemOf(res);
  expect(problem).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
    code,
    request_id: res.headers['x-request-id'],
  });
  expect(String(problem.request_id)).toMatch(/^req_/);
  return problem;
}

const pathsOf = (problem: Json) => (problem.errors as { path: string }[]).map((e) => e.path);

describe('bad input on POST /v1/text-to-image', () => {
  it('missing prompt → 400 naming prompt, no upstream call', async () => {
    const before = s.emu.calls.length;
    const p = expectProblem(await post({ model: 'modelslab/sdxl' }), 400, 'invalid_request');
    expect(pathsOf(p)).toEqual(['prompt']);
    expect(s.emu.calls.length).toBe(before);
  });

  it('width 5000 (over the contract) → 400 naming width', async () => {
    const p = expectProblem(
      await post({ model: 'modelslab/sdxl', prompt: 'x', width: 5000 }),
      400,
      'invalid_request',
    );
    expect(pathsOf(p)).toEqual(['width']);
  });

  it('every bad field is listed at once', async () => {
    const p = expectProblem(
      await post({ model: 'modelslab/sdxl', width: 5000, num_outputs: 9, prompt: 3 }),
      400,
      'invalid_request',
    );
    expect(pathsOf(p).sort()).toEqual(['num_outputs', 'prompt', 'width']);
  });

  it('width 2000 (over the model limit 1024) → 400 naming the limit, no upstream call', async () => {
    const creates = s.emu.creates;
    const calls = s.emu.calls.length;
    const p = expectProblem(
      await post({ model: 'modelslab/sdxl', prompt: 'x', width: 2000, height: 2000 }),
      400,
      'invalid_request',
    );
    expect(p.errors).toEqual([
      { path: 'width', message: expect.stringContaining('1024') },
      { path: 'height', message: expect.stringContaining('1024') },
    ]);
    expect(s.emu.creates).toBe(creates);
    expect(s.emu.calls.length).toBe(calls);
    // No task is left behind for a request refused before any spending.
    const list = await s.inject({ method: 'GET', url: '/v1/tasks', headers: auth(KEY_A) });
    expect(list.json<{ data: Json[] }>().data.filter((t) => t.status === 'failed')).toEqual([]);
  });

  it('model limits from GET /v1/models match what is enforced', async () => {
    const res = await s.inject({ method: 'GET', url: '/v1/models', headers: auth(KEY_A) });
    const sdxl = res.json<{ data: Json[] }>().data.find((m) => m.id === 'modelslab/sdxl');
    expect(sdxl).toMatchObject({ limits: { width: { max: 1024 }, num_outputs: { max: 4 } } });
  });

  it.each(['modelslab/nope', 'nope', 'replicate/some-model', 'modelslab/'])(
    'unknown model %s → 400 model_not_found naming model',
    async (model) => {
      const p = expectProblem(await post({ model, prompt: 'x' }), 400, 'model_not_found');
      expect(pathsOf(p)).toEqual(['model']);
    },
  );

  it('a video model for text-to-image → 400 unsupported_operation', async () => {
    const p = expectProblem(
      await post({ model: 'modelslab/cogvideox', prompt: 'x' }),
      400,
      'unsupported_operation',
    );
    expect(pathsOf(p)).toEqual(['model']);
  });

  it('the provider alone picks its default model', async () => {
    const img = await post({ model: 'modelslab', prompt: 'x' });
    expect(img.statusCode).toBe(201);
    expect(img.json<Json>()).toMatchObject({ model: 'modelslab/sdxl', status: 'succeeded' });
    const vid = await post({ model: 'modelslab', prompt: 'x' }, '/v1/text-to-video');
    expect(vid.statusCode).toBe(201);
    expect(vid.json<Json>()).toMatchObject({ model: 'modelslab/cogvideox', status: 'succeeded' });
  });

  it.each([
    ['truncated', '{"model":"modelslab","prompt":'],
    ['trailing comma', '{"model":"modelslab","prompt":"x",}'],
    ['not an object', '"just a string"'],
    ['an array', '[1,2,3]'],
    ['null', 'null'],
    ['prototype poisoning', '{"model":"modelslab","prompt":"x","__proto__":{"admin":true}}'],
  ])('malformed JSON (%s) → 400', async (_name, payload) => {
    const res = await s.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: { ...auth(KEY_A), 'content-type': 'application/json' },
      payload,
    });
    expect(res.statusCode).toBe(400);
    expect(['malformed_json', 'invalid_request']).toContain(problemOf(res).code);
  });

  it('an empty JSON body → 400 naming the required fields', async () => {
    const res = await s.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: { ...auth(KEY_A), 'content-type': 'application/json' },
      payload: '',
    });
    expect(res.statusCode).toBe(400);
    expect(problemOf(res).code).toMatch(/invalid_request|malformed_json/);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml'])(
    'content type %s → 415',
    async (type) => {
      const res = await s.inject({
        method: 'POST',
        url: '/v1/text-to-image',
        headers: { ...auth(KEY_A), 'content-type': type },
        payload: 'model=modelslab&prompt=x',
      });
      expectProblem(res, 415, 'unsupported_media_type');
    },
  );

  it('a JSON content type with a charset is accepted', async () => {
    const res = await s.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: { ...auth(KEY_A), 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify({ model: 'modelslab', prompt: 'x' }),
    });
    expect(res.statusCode).toBe(201);
  });

  it('a body over BODY_LIMIT_BYTES → 413', async () => {
    const calls = big.emu.calls.length;
    const res = await post({ model: 'modelslab', prompt: 'x'.repeat(4000) }, undefined, big);
    expectProblem(res, 413, 'payload_too_large');
    expect(big.emu.calls.length).toBe(calls);
    // Under the limit still works on the same app.
    expect((await post({ model: 'modelslab', prompt: 'x' }, undefined, big)).statusCode).toBe(201);
  });

  it.each([123, null, ['a'], { text: 'x' }, true])(
    'a non-string prompt (%j) → 400',
    async (prompt) => {
      const p = expectProblem(await post({ model: 'modelslab', prompt }), 400, 'invalid_request');
      expect(pathsOf(p)).toEqual(['prompt']);
    },
  );

  it('unknown fields → 400 naming each of them', async () => {
    const p = expectProblem(
      await post({ model: 'modelslab', prompt: 'x', samples: 2, key: 'mine' }),
      400,
      'invalid_request',
    );
    expect(pathsOf(p).sort()).toEqual(['key', 'samples']);
  });

  it('provider_options not on the allowlist → 400 naming the option, no upstream call', async () => {
    const calls = s.emu.calls.length;
    const p = expectProblem(
      await post({
        model: 'modelslab',
        prompt: 'x',
        provider_options: {
          key: 'stolen',
          webhook: 'http://169.254.169.254/',
          safety_checker: 'maybe',
        },
      }),
      400,
      'invalid_request',
    );
    expect(pathsOf(p).sort()).toEqual([
      'provider_options.key',
      'provider_options.safety_checker',
      'provider_options.webhook',
    ]);
    expect(s.emu.calls.length).toBe(calls);
  });

  it.each([
    [{ num_outputs: 0 }, 'num_outputs'],
    [{ num_outputs: 2.5 }, 'num_outputs'],
    [{ seed: -1 }, 'seed'],
    [{ guidance_scale: 'high' }, 'guidance_scale'],
    [{ scheduler: 'NoSuchScheduler' }, 'scheduler'],
    [{ steps: 400 }, 'steps'],
    [{ metadata: { n: 1 } }, 'metadata.n'],
    [{ webhook: { url: 'ftp://x' } }, 'webhook.url'],
  ])('%j → 400 naming %s', async (extra, path) => {
    const p = expectProblem(
      await post({ model: 'modelslab', prompt: 'x', ...extra }),
      400,
      'invalid_request',
    );
    expect(pathsOf(p)).toContain(path);
  });

  it('a bad Prefer header value is ignored, not an error', async () => {
    const res = await s.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: { ...auth(KEY_A), prefer: 'wait=banana' },
      payload: { model: 'modelslab', prompt: 'x' },
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['preference-applied']).toBeUndefined();
  });
});

describe('bad input on task routes', () => {
  it('GET of an unknown task id → 404 task_not_found', async () => {
    const res = await s.inject({
      method: 'GET',
      url: '/v1/tasks/task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B',
      headers: auth(KEY_A),
    });
    expectProblem(res, 404, 'task_not_found');
  });

  it.each([
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e',
    'task_%00',
    'a%20b',
    '%F0%9F%A6%8A',
    "task_'%3B%20DROP%20TABLE%20tasks%3B--",
    'x'.repeat(64),
    '%E0%A4%A',
    '%',
    'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B%3Fwait%3D1',
  ])('weird id %s → 4xx problem, never 500', async (id) => {
    const res = await s.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: auth(KEY_A) });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expect(res.statusCode, res.body).toBeLessThan(500);
    expect(problemOf(res).request_id).toBe(res.headers['x-request-id']);
  });

  it('an id over 64 characters → 400 naming the path parameter', async () => {
    const res = await s.inject({
      method: 'GET',
      url: `/v1/tasks/${'x'.repeat(65)}`,
      headers: auth(KEY_A),
    });
    const p = expectProblem(res, 400, 'invalid_request');
    expect(pathsOf(p)).toEqual(['params.id']);
  });

  it('a very long id (over the router limit) → 400, never 500', async () => {
    const res = await s.inject({
      method: 'GET',
      url: `/v1/tasks/${'x'.repeat(5000)}`,
      headers: auth(KEY_A),
    });
    expectProblem(res, 400, 'invalid_request');
  });

  it.each(['wait=-1', 'wait=61', 'wait=abc', 'wait=1.5'])('GET ?%s → 400', async (q) => {
    const created = (await post({ model: 'modelslab', prompt: 'x' })).json<Json>();
    const res = await s.inject({
      method: 'GET',
      url: `/v1/tasks/${created.id as string}?${q}`,
      headers: auth(KEY_A),
    });
    const p = expectProblem(res, 400, 'invalid_request');
    expect(pathsOf(p)).toEqual(['querystring.wait']);
  });

  it.each(['status=done', 'limit=0', 'limit=101', 'cursor=abc'])(
    'GET /v1/tasks?%s → 400',
    async (q) => {
      const res = await s.inject({ method: 'GET', url: `/v1/tasks?${q}`, headers: auth(KEY_A) });
      const p = expectProblem(res, 400, 'invalid_request');
      expect(pathsOf(p)[0]).toMatch(/^querystring\./);
    },
  );

  it('an unknown route → 404 problem', async () => {
    const res = await s.inject({ method: 'GET', url: '/v1/nothing-here', headers: auth(KEY_A) });
    expectProblem(res, 404, 'not_found');
  });

  it('the app still answers after all of the above', async () => {
    expect((await s.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect(s.t.logs.filter((l) => l.includes('"level":50'))).toEqual([]);
  });
});
