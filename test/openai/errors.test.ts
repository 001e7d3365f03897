import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiErrorOf, startOpenAISuite, type Json, type OpenAISuite } from './harness.js';

let s: OpenAISuite;
beforeAll(async () => {
  s = await startOpenAISuite();
});
afterAll(async () => {
  expect(s.leaks()).toEqual([]);
  await s.close();
});

const envelope = async (res: Response) => {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: Json };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  return body.error;
};

describe('/openai/v1 errors use the OpenAI envelope', () => {
  it('answers a missing or wrong key with 401 authentication_error', async () => {
    const missing = await s.raw('/videos', { key: null });
    expect(missing.status).toBe(401);
    expect(await envelope(missing)).toMatchObject({
      type: 'authentication_error',
      code: 'unauthorized',
      param: null,
    });

    const wrong = await s.raw('/videos', { key: 'gw_not_a_key_at_all_0123456789' });
    expect(wrong.status).toBe(401);
    expect(await envelope(wrong)).toMatchObject({ type: 'authentication_error' });

    const err = await apiErrorOf(s.client('gw_not_a_key_at_all_0123456789').videos.list());
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.message).toContain('The gateway key is not valid');
    expect(err.requestID).toMatch(/^req_/);
  });

  it('answers an unknown route and an unknown video with 404 not_found_error', async () => {
    const route = await s.raw('/chat/completions', { method: 'POST', body: '{}' });
    expect(route.status).toBe(404);
    expect(await envelope(route)).toMatchObject({ type: 'not_found_error', code: 'not_found' });

    const err = await apiErrorOf(s.client().videos.retrieve('task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B'));
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error).toMatchObject({ type: 'not_found_error', code: 'task_not_found' });
  });

  it('answers bad JSON, bad fields and unsupported types with invalid_request_error', async () => {
    const malformed = await s.raw('/videos', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"prompt":',
    });
    expect(malformed.status).toBe(400);
    expect(await envelope(malformed)).toMatchObject({
      type: 'invalid_request_error',
      code: 'malformed_json',
    });

    const badSeconds = await s.raw('/videos', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x', seconds: 'four' }),
    });
    expect(badSeconds.status).toBe(400);
    expect(await envelope(badSeconds)).toMatchObject({ param: 'seconds' });

    const badQuery = await s.raw('/videos?limit=1000');
    expect(badQuery.status).toBe(400);
    expect(await envelope(badQuery)).toMatchObject({ param: 'limit' });

    const text = await s.raw('/videos', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(text.status).toBe(415);
    expect(await envelope(text)).toMatchObject({ type: 'invalid_request_error' });
  });

  it('keeps problem+json on /v1 (the envelope is scoped to /openai/v1)', async () => {
    const res = await fetch(`${s.url}/v1/tasks`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('/openai/v1 multipart bodies', () => {
  const form = (fields: Record<string, string | Blob>) => {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    return body;
  };

  it('coerces string fields (seed); seconds stays a string (none reported: ModelsLab has no length)', async () => {
    const res = await s.raw('/videos', {
      method: 'POST',
      body: form({ model: 'modelslab', prompt: 'fields as strings', seconds: '4', seed: '42' }),
    });
    expect(res.status).toBe(200);
    // ModelsLab video takes no length: nothing asked of it, so none reported (issue 11).
    expect(await res.json()).toMatchObject({ model: 'modelslab/cogvideox', seconds: null });
    const create = s.ml.calls.filter((c) => c.path.endsWith('/text2video')).at(-1);
    expect(create?.body).toMatchObject({ prompt: 'fields as strings', seed: 42 });
  });

  it('refuses a file that is not an image, and more than one file', async () => {
    const notImage = await s.raw('/videos', {
      method: 'POST',
      body: form({ prompt: 'x', input_reference: new Blob(['hello'], { type: 'image/png' }) }),
    });
    expect(notImage.status).toBe(400);
    expect(await envelope(notImage)).toMatchObject({ param: 'input_reference' });

    const body = form({ prompt: 'x' });
    body.append('input_reference', new Blob(['a'], { type: 'image/png' }), 'a.png');
    body.append('other', new Blob(['b'], { type: 'image/png' }), 'b.png');
    const twoFiles = await s.raw('/videos', { method: 'POST', body });
    expect(twoFiles.status).toBe(413);
    expect(await envelope(twoFiles)).toMatchObject({ code: 'payload_too_large' });
  });
});

describe('/openai/v1 router-level errors', () => {
  it('answers an over-long video id in the envelope too', async () => {
    const res = await s.raw(`/videos/${'a'.repeat(300)}`);
    expect(res.status).toBe(400);
    expect(await envelope(res)).toMatchObject({ type: 'invalid_request_error' });
  });
});
