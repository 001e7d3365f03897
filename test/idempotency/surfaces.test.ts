import { afterEach, describe, expect, it } from 'vitest';
import { KEY_A, auth } from '../helpers/test-app.js';
import { startOpenAISuite, type OpenAISuite } from '../openai/harness.js';
import { SD, SD_REF, startReplicateSuite, type ReplicateSuite } from '../replicate/harness.js';

type Json = Record<string, unknown>;

let replicate: ReplicateSuite | undefined;
let openai: OpenAISuite | undefined;
afterEach(async () => {
  await replicate?.close();
  await openai?.close();
  replicate = openai = undefined;
});

describe('Idempotency-Key on /replicate/v1 creates', () => {
  const predict = (s: ReplicateSuite, key: string, body: Json, path = '/predictions') =>
    s.inject({
      method: 'POST',
      url: `/replicate/v1${path}`,
      headers: { ...auth(), 'content-type': 'application/json', 'idempotency-key': key },
      payload: JSON.stringify(body),
    });

  it('the same key and body give the same prediction and one upstream create', async () => {
    replicate = await startReplicateSuite();
    const body = { version: SD, input: { prompt: 'an owl', num_outputs: 1 } };
    const a = await predict(replicate, 'r-1', body);
    const b = await predict(replicate, 'r-1', body);
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.headers['idempotent-replayed']).toBe('true');
    const [pa, pb] = [a.json<Json>(), b.json<Json>()];
    expect(pb.id).toBe(pa.id);
    expect(pb).toMatchObject({ version: SD, input: { prompt: 'an owl' } });
    expect(replicate.emu.creates).toBe(1);
  });

  it('another input under the same key is 422 in Replicate’s problem shape', async () => {
    replicate = await startReplicateSuite();
    await predict(replicate, 'r-2', { version: SD, input: { prompt: 'an owl' } });
    const other = await predict(replicate, 'r-2', { version: SD, input: { prompt: 'a hawk' } });
    expect(other.statusCode).toBe(422);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(other.json<Json>()).toMatchObject({ status: 422, detail: expect.any(String) });
    expect(replicate.emu.creates).toBe(1);
  });

  it('by-model creates are keyed too, and a key on /v1 does not collide with /replicate/v1', async () => {
    replicate = await startReplicateSuite();
    const input = { prompt: 'a fox' };
    const path = '/models/black-forest-labs/flux-schnell/predictions';
    const a = await predict(replicate, 'same-key', { input }, path);
    const b = await predict(replicate, 'same-key', { input }, path);
    expect(b.json<Json>().id).toBe(a.json<Json>().id);
    // The same key string on the normalized surface is another key: a new task.
    const v1 = await replicate.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: { ...auth(), 'idempotency-key': 'same-key' },
      payload: { model: `replicate/${SD_REF}`, prompt: 'a fox' },
    });
    expect(v1.statusCode).toBe(201);
    expect(v1.headers['idempotent-replayed']).toBeUndefined();
    expect(v1.json<Json>().id).not.toBe(a.json<Json>().id);
    expect(replicate.emu.creates).toBe(2);
  });
});

describe('Idempotency-Key on /openai/v1 creates', () => {
  it('videos.create through the official client with the header: one job, the same video', async () => {
    openai = await startOpenAISuite();
    const client = openai.client();
    const params = { model: 'modelslab/cogvideox', prompt: 'waves at night' };
    const opts = { headers: { 'Idempotency-Key': 'vid-1' } };
    const a = await client.videos.create(params, opts);
    const b = await client.videos.create(params, opts);
    expect(b.id).toBe(a.id);
    expect(openai.ml.creates).toBe(1);
    // Raw: the replay is marked, and another body is refused in OpenAI's envelope.
    const raw = await openai.raw('/videos', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'vid-1' },
      body: JSON.stringify(params),
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('idempotent-replayed')).toBe('true');
    expect(((await raw.json()) as Json).id).toBe(a.id);
    const other = await openai.raw('/videos', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'vid-1' },
      body: JSON.stringify({ ...params, prompt: 'waves at noon' }),
    });
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({
      error: { code: 'idempotency_key_reused', type: 'invalid_request_error' },
    });
    expect(openai.ml.creates).toBe(1);
  });

  it('images.generate with the header: the same images, one upstream create', async () => {
    openai = await startOpenAISuite();
    const send = () =>
      openai!.raw('/images/generations', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'img-1' },
        body: JSON.stringify({ model: 'modelslab/sdxl', prompt: 'a kite', size: '512x512' }),
      });
    const a = await send();
    const b = await send();
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.headers.get('x-genway-task-id')).toBe(a.headers.get('x-genway-task-id'));
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(await b.json()).toEqual(await a.json());
    expect(openai.ml.creates).toBe(1);
  });

  it('a malformed key is a 400 naming the header, in OpenAI’s envelope', async () => {
    openai = await startOpenAISuite();
    const res = await openai.raw('/videos', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'x'.repeat(256) },
      body: JSON.stringify({ model: 'modelslab/cogvideox', prompt: 'x' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { type: 'invalid_request_error', param: 'idempotency-key' },
    });
    expect(openai.ml.creates).toBe(0);
  });

  it('the same key on /v1 and /openai/v1 are two keys', async () => {
    openai = await startOpenAISuite();
    const v1 = await fetch(`${openai.url}/v1/text-to-video`, {
      method: 'POST',
      headers: { ...auth(KEY_A), 'content-type': 'application/json', 'idempotency-key': 'k' },
      body: JSON.stringify({ model: 'modelslab/cogvideox', prompt: 'rain' }),
    });
    const video = await openai
      .client()
      .videos.create(
        { model: 'modelslab/cogvideox', prompt: 'rain' },
        { headers: { 'Idempotency-Key': 'k' } },
      );
    expect(v1.status).toBe(201);
    expect(video.id).not.toBe(((await v1.json()) as Json).id);
    expect(openai.ml.creates).toBe(2);
  });
});
