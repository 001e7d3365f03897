import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_A, auth } from '../helpers/test-app.js';
import {
  apiErrorOf,
  PNG_SIGNATURE,
  startOpenAISuite,
  type Json,
  type OpenAISuite,
} from './harness.js';

let s: OpenAISuite;
beforeAll(async () => {
  s = await startOpenAISuite();
});
afterAll(async () => {
  expect(s.leaks()).toEqual([]);
  await s.close();
});

describe('POST /openai/v1/images/generations through the official openai client', () => {
  it('returns provider URLs that download PNGs, and records a genway task', async () => {
    const res = await s
      .client()
      .images.generate({
        model: 'modelslab/sdxl',
        prompt: 'a lighthouse on a cliff at sunset',
        n: 2,
        size: '512x512',
      })
      .withResponse();
    const images = res.data;
    expect(images.created).toBeGreaterThan(1_600_000_000);
    expect(images.data).toHaveLength(2);
    for (const image of images.data ?? []) {
      expect(image.b64_json).toBeUndefined();
      const file = await fetch(image.url!);
      expect(file.status).toBe(200);
      const body = Buffer.from(await file.arrayBuffer());
      expect(body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    }
    // size became width/height and n the number of samples, upstream.
    const create = s.ml.calls.find((c) => c.path.endsWith('/text2img'));
    expect(create?.body).toMatchObject({
      model_id: 'sdxl',
      width: '512',
      height: '512',
      samples: '2',
    });
    // The same job is a genway task of tenant A.
    const taskId = res.response.headers.get('x-genway-task-id');
    expect(taskId).toMatch(/^task_/);
    const task = await s.t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${taskId}`,
      headers: auth(),
    });
    expect(task.json<Json>()).toMatchObject({ type: 'text-to-image', status: 'succeeded' });
  });

  it('inlines the files with response_format b64_json', async () => {
    const images = await s.client().images.generate({
      model: 'modelslab/sdxl',
      prompt: 'a red apple',
      response_format: 'b64_json',
    });
    expect(images.data).toHaveLength(1);
    const [image] = images.data ?? [];
    expect(image?.url).toBeUndefined();
    const bytes = Buffer.from(image!.b64_json!, 'base64');
    expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(bytes.length).toBeGreaterThan(100);
  });

  it('uses the first text-to-image model when model is left out, and waits for a queued job', async () => {
    s.ml.scriptNext({ processing: 2, eta: 0 });
    const images = await s.client().images.generate({ prompt: 'a quiet harbour' });
    expect(images.data).toHaveLength(1);
    const create = s.ml.calls.filter((c) => c.path.endsWith('/text2img')).at(-1);
    expect(create?.body).toMatchObject({ model_id: 'sdxl', prompt: 'a quiet harbour' });
  });

  it('reports a failed job as an APIError with its code', async () => {
    s.ml.scriptNext({ fail: 'NSFW content detected', afterFetches: 1 });
    const err = await apiErrorOf(
      s.client().images.generate({ model: 'modelslab/sdxl', prompt: 'something refused' }),
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(422);
    expect(apiErr.code).toBe('upstream_rejected');
    expect(apiErr.message).toContain('NSFW content detected');
    expect(apiErr.headers?.get('x-should-retry')).toBeNull();
  });

  it('answers an upstream 500 on create with x-should-retry: false, in the OpenAI envelope', async () => {
    s.ml.scriptNext({ http: 500 });
    const before = s.ml.creates;
    const res = await s.raw('/images/generations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'modelslab/sdxl', prompt: 'x' }),
    });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-should-retry')).toBe('false');
    const body = (await res.json()) as { error: Json };
    expect(body.error).toMatchObject({
      type: 'api_error',
      code: 'upstream_outcome_unknown',
      param: null,
    });
    // With retries on, the client still sends the create once.
    s.ml.scriptNext({ http: 500 });
    const calls = s.ml.calls.length;
    await expect(
      s.client(KEY_A, 2).images.generate({ model: 'modelslab/sdxl', prompt: 'x' }),
    ).rejects.toMatchObject({ status: 502 });
    expect(s.ml.calls.length - calls).toBe(1);
    expect(s.ml.creates).toBe(before);
  });

  it('names the OpenAI field at fault', async () => {
    const err = await apiErrorOf(
      s.client().images.generate({ model: 'modelslab/sdxl', prompt: 'x', size: '1536x1024' }),
    );
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ type: 'invalid_request_error', param: 'size' });

    const unknown = await apiErrorOf(
      s.client().images.generate({ model: 'dall-e-3', prompt: 'x' }),
    );
    expect(unknown.status).toBe(400);
    expect(unknown.error).toMatchObject({ param: 'model', code: 'model_not_found' });

    const missing = await s.raw('/images/generations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 2 }),
    });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({
      error: { type: 'invalid_request_error', param: 'prompt', code: 'invalid_request' },
    });
  });
});

describe('images/generations past OPENAI_IMAGES_WAIT_SECONDS', () => {
  it('answers 504 naming the task (which keeps running), never re-sent by the client', async () => {
    const slow = await startOpenAISuite({ OPENAI_IMAGES_WAIT_SECONDS: '1' });
    try {
      slow.ml.scriptNext({ processing: 1000, eta: 0 });
      const err = await apiErrorOf(
        slow.client(KEY_A, 2).images.generate({ model: 'modelslab/sdxl', prompt: 'slow' }),
      );
      expect(err.status).toBe(504);
      expect(err.headers?.get('x-should-retry')).toBe('false');
      expect(err.error).toMatchObject({ type: 'timeout_error', code: 'upstream_timeout' });
      const taskId = err.headers?.get('x-genway-task-id');
      expect(err.message).toContain(`GET /v1/tasks/${taskId}`);
      expect(slow.ml.creates).toBe(1);
      const task = await slow.t.app.inject({
        method: 'GET',
        url: `/v1/tasks/${taskId}`,
        headers: auth(),
      });
      expect(task.json<Json>()).toMatchObject({ status: 'running' });
      expect(slow.leaks()).toEqual([]);
    } finally {
      await slow.close();
    }
  });
});
