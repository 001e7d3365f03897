import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SD, bearer, startMoneySuite, type Json, type MoneySuite } from './harness.js';

let s: MoneySuite;
/** May use ModelsLab's models, for images only. */
let imagesOnly: string;
/** May use exactly modelslab/sdxl, any operation. */
let sdxlOnly: string;

beforeAll(async () => {
  s = await startMoneySuite();
  imagesOnly = await s.tenantKey(
    'team-img',
    {},
    {
      models: ['modelslab/*'],
      operations: ['text-to-image'],
    },
  );
  const other = await s.admin('POST', '/admin/tenants/team-img/keys', {
    models: ['modelslab/sdxl'],
  });
  sdxlOnly = other.json<{ key: string }>().key;
});
afterAll(() => s.close());

const post = (url: string, key: string, payload: Json, headers: Json = {}) =>
  s.inject({ method: 'POST', url, headers: { ...bearer(key), ...headers }, payload });

describe('key allowlists, checked before anything is spent', () => {
  it('/v1: another model is 403 model_not_allowed, another operation 403 operation_not_allowed', async () => {
    const before = s.upstreamCreates();
    const model = await post('/v1/text-to-video', sdxlOnly, { model: 'pixverse/v5', prompt: 'x' });
    expect(model.statusCode).toBe(403);
    expect(model.headers['content-type']).toContain('application/problem+json');
    expect(model.json()).toMatchObject({ status: 403, code: 'model_not_allowed' });
    const op = await post('/v1/text-to-video', imagesOnly, { model: 'modelslab', prompt: 'x' });
    expect(op.json()).toMatchObject({ status: 403, code: 'operation_not_allowed' });
    expect(s.upstreamCreates()).toBe(before);
    const allowed = await post('/v1/text-to-image', imagesOnly, {
      model: 'modelslab',
      prompt: 'x',
    });
    expect(allowed.statusCode).toBe(201);
    expect(s.upstreamCreates()).toBe(before + 1);
  });

  it('/replicate/v1: 403 in Replicate’s shape, no upstream call', async () => {
    const before = s.upstreamCreates();
    const res = await post('/replicate/v1/predictions', sdxlOnly, {
      version: SD,
      input: { prompt: 'x' },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ status: 403 });
    expect(res.json<Json>().detail).toMatch(/may not use the model replicate\//);
    expect(s.r8.creates).toBe(0);
    expect(s.upstreamCreates()).toBe(before);
  });

  it('/openai/v1: 403 permission_error in OpenAI’s envelope, no upstream call', async () => {
    const before = s.upstreamCreates();
    const video = await post('/openai/v1/videos', sdxlOnly, { model: 'pixverse/v5', prompt: 'x' });
    expect(video.statusCode).toBe(403);
    expect(video.json()).toMatchObject({
      error: { type: 'permission_error', code: 'model_not_allowed' },
    });
    const image = await post('/openai/v1/images/generations', sdxlOnly, {
      model: `replicate/stability-ai/stable-diffusion:${SD}`,
      prompt: 'x',
    });
    expect(image.json()).toMatchObject({ error: { code: 'model_not_allowed' } });
    expect(s.upstreamCreates()).toBe(before);
  });

  it('a refused create claims no Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'allowlist-k1' };
    const refused = await post(
      '/v1/text-to-video',
      sdxlOnly,
      { model: 'pixverse/v5', prompt: 'x' },
      headers,
    );
    expect(refused.statusCode).toBe(403);
    const ok = await post(
      '/v1/text-to-image',
      sdxlOnly,
      { model: 'modelslab/sdxl', prompt: 'y' },
      headers,
    );
    expect(ok.statusCode).toBe(201);
  });

  it('keys without rules (configuration) may use every model', async () => {
    const res = await post('/v1/text-to-video', s.t.config.tenants[0]!.keys[0]!, {
      model: 'pixverse/v5',
      prompt: 'x',
    });
    expect(res.statusCode).toBe(201);
  });
});
