import { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng } from '../../src/emulators/shared/png.js';
import { KEY_A, KEY_B, auth } from '../helpers/test-app.js';
import {
  apiErrorOf,
  isMp4,
  retrieveUntilDone,
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

describe('/openai/v1/videos through the official openai client', () => {
  it('creates with a JSON body (the 6.2-6.27 SDK form), runs to completed, downloads an MP4', async () => {
    s.ml.scriptNext({ processing: 2, eta: 0 });
    const res = await s.raw('/videos', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'modelslab/cogvideox',
        prompt: 'a paper boat drifting down a rainy street',
        seconds: '4',
        size: '1280x720',
      }),
    });
    expect(res.status).toBe(200);
    const created = (await res.json()) as Json;
    expect(created).toMatchObject({
      object: 'video',
      model: 'modelslab/cogvideox',
      status: 'in_progress',
      // What was asked of ModelsLab (issue 11): the size within its 512x512 limit, no length.
      seconds: null,
      size: '512x288',
      prompt: 'a paper boat drifting down a rainy street',
      error: null,
      completed_at: null,
    });
    expect(created.id).toMatch(/^task_/);
    expect(created.progress).toBeGreaterThanOrEqual(0);

    const client = s.client();
    const done = await retrieveUntilDone(client, created.id as string);
    expect(done).toMatchObject({ status: 'completed', progress: 100, size: '512x288' });
    const sent = s.ml.calls.filter((c) => c.path.endsWith('/text2video')).at(-1);
    expect(sent?.body).toMatchObject({ width: '512', height: '288' });
    expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);
    // ModelsLab deletes video output after 24 h: the object says when.
    expect(done.expires_at).toBeGreaterThan(Date.now() / 1000);

    const content = await client.videos.downloadContent(done.id);
    expect(content.headers.get('content-type')).toBe('video/mp4');
    const bytes = Buffer.from(await content.arrayBuffer());
    expect(isMp4(bytes)).toBe(true);
  });

  it('creates with the installed SDK (multipart), text-to-video with the default model', async () => {
    const client = s.client();
    const video = await client.videos.create({ prompt: 'waves on a pebble beach', seconds: '8' });
    expect(video).toMatchObject({ object: 'video', model: 'modelslab/cogvideox', seconds: null });
    expect(video.size).toBeNull();
    const done = await retrieveUntilDone(client, video.id);
    expect(done.status).toBe('completed');
    const create = s.ml.calls.filter((c) => c.path.endsWith('/text2video')).at(-1);
    expect(create?.body).toMatchObject({ prompt: 'waves on a pebble beach' });
  });

  it('turns an input_reference file part into image-to-video (uploaded to PixVerse)', async () => {
    const client = s.client();
    const uploadsBefore = s.px.calls.filter((c) => c.path.endsWith('/image/upload')).length;
    const video = await client.videos.create({
      model: 'pixverse/v5',
      prompt: 'the cat turns its head',
      seconds: '8',
      size: '1280x720',
      input_reference: await toFile(makePng(64, 64), 'cat.png', { type: 'image/png' }),
    });
    expect(video).toMatchObject({ model: 'pixverse/v5', seconds: '8', size: '1280x720' });
    const done = await retrieveUntilDone(client, video.id);
    expect(done.status).toBe('completed');
    const uploads = s.px.calls.filter((c) => c.path.endsWith('/image/upload'));
    expect(uploads.length).toBe(uploadsBefore + 1);
    const generate = s.px.calls.filter((c) => c.path.endsWith('/video/img/generate')).at(-1);
    expect(generate?.body).toMatchObject({ duration: 8, quality: '720p' });
    const task = await s.t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${video.id}`,
      headers: auth(),
    });
    expect(task.json<Json>()).toMatchObject({ type: 'image-to-video' });
    const bytes = Buffer.from(await (await client.videos.downloadContent(video.id)).arrayBuffer());
    expect(isMp4(bytes)).toBe(true);
  });

  it('accepts input_reference[image_url] (a bracketed multipart field) as the image', async () => {
    const dataUrl = `data:image/png;base64,${makePng(32, 32).toString('base64')}`;
    const video = await s.client().videos.create({
      model: 'pixverse/v5',
      prompt: 'a slow zoom',
      input_reference: { image_url: dataUrl },
    });
    const task = await s.t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${video.id}`,
      headers: auth(),
    });
    expect(task.json<Json>()).toMatchObject({ type: 'image-to-video', model: 'pixverse/v5' });
    await retrieveUntilDone(s.client(), video.id);

    const bad = await apiErrorOf(
      s.client().videos.create({ prompt: 'x', input_reference: { file_id: 'file_123' } }),
    );
    expect(bad.status).toBe(400);
    expect(bad.error).toMatchObject({ param: 'input_reference' });
    expect(bad.message).toContain('file_id is not supported');
  });

  it('refuses to download a video that is not completed, once (400, never 409)', async () => {
    s.ml.scriptNext({ processing: 1000, eta: 0 });
    const client = s.client(KEY_A, 2);
    const video = await client.videos.create({ model: 'modelslab/cogvideox', prompt: 'slow' });
    const calls = s.t.logs.length;
    const err = await apiErrorOf(client.videos.downloadContent(video.id));
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ type: 'invalid_request_error', code: 'output_not_ready' });
    expect(err.message).toContain('in_progress');
    // One request only, despite maxRetries: 2.
    const requests = s.t.logs
      .slice(calls)
      .filter((l) => l.includes(`/openai/v1/videos/${video.id}/content`));
    expect(requests).toHaveLength(1);
    // A running job cannot be deleted either.
    const del = await apiErrorOf(client.videos.delete(video.id));
    expect(del.status).toBe(400);
  });

  it('shows a failed job with its error through the SDK', async () => {
    s.ml.scriptNext({ fail: 'GPU worker crashed', afterFetches: 1 });
    const client = s.client();
    const video = await client.videos.create({ model: 'modelslab/cogvideox', prompt: 'doomed' });
    const done = await retrieveUntilDone(client, video.id);
    expect(done.status).toBe('failed');
    expect(done.error).toEqual({ code: 'upstream_rejected', message: 'GPU worker crashed' });
    const content = await apiErrorOf(client.videos.downloadContent(video.id));
    expect(content.status).toBe(400);
  });

  it('answers an upstream 500 on create with x-should-retry: false and sends it once', async () => {
    s.ml.scriptNext({ http: 500 });
    const res = await s.raw('/videos', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'modelslab/cogvideox', prompt: 'x' }),
    });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(await res.json()).toMatchObject({
      error: { type: 'api_error', code: 'upstream_outcome_unknown' },
    });

    s.ml.scriptNext({ http: 500 });
    const before = s.ml.calls.filter((c) => c.path.endsWith('/text2video')).length;
    const err = await apiErrorOf(
      s.client(KEY_A, 2).videos.create({ model: 'modelslab/cogvideox', prompt: 'x' }),
    );
    expect(err.status).toBe(502);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(s.ml.calls.filter((c) => c.path.endsWith('/text2video')).length).toBe(before + 1);
  });

  it('keeps tenants apart', async () => {
    const video = await s.client().videos.create({ model: 'modelslab/cogvideox', prompt: 'mine' });
    const other = s.client(KEY_B);
    for (const call of [
      () => other.videos.retrieve(video.id),
      () => other.videos.downloadContent(video.id),
      () => other.videos.delete(video.id),
    ]) {
      const err = await apiErrorOf(call());
      expect(err.status).toBe(404);
      expect(err.error).toMatchObject({ type: 'not_found_error', code: 'task_not_found' });
    }
    const page = await other.videos.list({ limit: 100 });
    expect(page.data.map((v) => v.id)).not.toContain(video.id);
    // Still there for its owner.
    expect((await s.client().videos.retrieve(video.id)).id).toBe(video.id);
  });

  it('deletes a finished video: gone from retrieve, list and /v1/tasks', async () => {
    const client = s.client();
    const video = await client.videos.create({ model: 'modelslab/cogvideox', prompt: 'bye' });
    await retrieveUntilDone(client, video.id);
    const deleted = await client.videos.delete(video.id);
    expect(deleted).toEqual({ id: video.id, object: 'video.deleted', deleted: true });
    expect((await apiErrorOf(client.videos.retrieve(video.id))).status).toBe(404);
    expect((await apiErrorOf(client.videos.delete(video.id))).status).toBe(404);
    const page = await client.videos.list({ limit: 100 });
    expect(page.data.map((v) => v.id)).not.toContain(video.id);
    const task = await s.t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${video.id}`,
      headers: auth(),
    });
    expect(task.statusCode).toBe(404);
  });
});

describe('GET /openai/v1/videos (list)', () => {
  it('pages with has_more and after, newest first, and iterates every page', async () => {
    const key = 'gw_test_tenant_a_0123456789abcdef'; // tenant A: has other videos already
    const client = s.client(key);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await client.videos.create({ model: 'modelslab/cogvideox', prompt: `p${i}` })).id);
    }
    // An image task is not a video.
    await client.images.generate({ model: 'modelslab/sdxl', prompt: 'not a video' });

    const first = await client.videos.list({ limit: 2 });
    expect(first.data.map((v) => v.id)).toEqual([ids[4], ids[3]]);
    expect(first.has_more).toBe(true);
    expect(first.hasNextPage()).toBe(true);
    const raw = await s.raw(`/videos?limit=2&after=${ids[3]}`);
    const second = (await raw.json()) as Json;
    expect(second).toMatchObject({
      object: 'list',
      first_id: ids[2],
      last_id: ids[1],
      has_more: true,
    });

    const all: string[] = [];
    for await (const video of client.videos.list({ limit: 3 })) all.push(video.id);
    expect(all.slice(0, 5)).toEqual([...ids].reverse());
    expect(new Set(all).size).toBe(all.length);
    expect(all.every((id) => id.startsWith('task_'))).toBe(true);

    const asc = await client.videos.list({ limit: 2, order: 'asc', after: ids[1] });
    expect(asc.data.map((v) => v.id)).toEqual([ids[2], ids[3]]);
  });

  it('answers an empty list, not null, for a tenant without videos', async () => {
    const res = await s.raw('/videos', { key: KEY_B });
    // KEY_B created nothing in this file.
    expect(await res.json()).toEqual({
      object: 'list',
      data: [],
      first_id: null,
      last_id: null,
      has_more: false,
    });
  });
});
