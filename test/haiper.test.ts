import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HaiperSettings } from '../src/providers/haiper/index.js';
import { startHaiperEmulator, type HaiperEmulator } from '../src/emulators/haiper/server.js';
import {
  auth,
  buildTestApp,
  findSecrets,
  waitForTerminal,
  type TestApp,
} from './helpers/test-app.js';

/**
 * Haiper through the real app (`app.inject`) against the Cloudsway emulator on loopback:
 * every operation to a real MP4, statuses and progress, faults while polling, rules checked
 * before spending, data: images without PUBLIC_URL, and no secret anywhere.
 */

const ACCESS_KEY = 'haiper-test-access-key-0123456789';
const MEDIA_TTL_MS = 30 * 60 * 1000;

const settingsFor = (emu: HaiperEmulator, secret = ACCESS_KEY): HaiperSettings => ({
  baseUrl: emu.basePath,
  endpointPath: emu.endpointPath,
  credentials: [{ id: 'haiper-1', secret }],
  emulated: false,
});

type Json = Record<string, unknown>;
interface Output {
  url: string;
  content_type: string;
  expires_at: string | null;
}

/** Every response the tests saw, for the secret scan. */
const seen: string[] = [];
const apps: TestApp[] = [];

async function send(t: TestApp, opts: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await t.app.inject({ ...opts, headers: { ...auth(), ...opts.headers } });
  seen.push(res.body, JSON.stringify(res.headers));
  return res;
}

const create = (t: TestApp, operation: string, payload: Json) =>
  send(t, { method: 'POST', url: `/v1/${operation}`, payload });

async function finish(t: TestApp, id: string): Promise<Json> {
  const task = await waitForTerminal(t.app, id);
  seen.push(JSON.stringify(task));
  return task;
}

const createCalls = (emu: HaiperEmulator) => emu.calls.filter((c) => c.method === 'POST');
const pollCalls = (emu: HaiperEmulator) =>
  emu.calls.filter((c) => c.method === 'GET' && c.path.includes('/video/tasks/'));

describe('haiper through the gateway', () => {
  let emu: HaiperEmulator;
  let t: TestApp;

  beforeAll(async () => {
    emu = await startHaiperEmulator({
      endpointPath: 'LPUqHEAjfonOmohV',
      accessKeys: [ACCESS_KEY],
      mediaTtlMs: MEDIA_TTL_MS,
    });
    t = await buildTestApp({ providers: { haiper: settingsFor(emu) } });
    apps.push(t);
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(() => emu.reset());

  it('lists haiper/haiper-video-2 with its operations and limits', async () => {
    const res = await send(t, { method: 'GET', url: '/v1/models' });
    expect(res.statusCode).toBe(200);
    const model = (res.json() as { data: Json[] }).data.find(
      (m) => m.id === 'haiper/haiper-video-2',
    );
    expect(model).toMatchObject({
      provider: 'haiper',
      emulated: false,
      operations: ['text-to-video', 'image-to-video', 'video-upscale', 'video-extend'],
      limits: {
        'text-to-video': {
          duration: { values: [2, 4, 8] },
          aspect_ratio: { values: ['16:9', '9:16', '3:4', '4:3', '1:1'] },
        },
        'video-extend': { duration: { values: [2, 4] } },
      },
    });
  });

  const cases: { operation: string; payload: Json; route: string; body: Json }[] = [
    {
      operation: 'text-to-video',
      payload: {
        model: 'haiper',
        prompt: 'Generate a video of a sunset over the ocean.',
        negative_prompt: 'Avoid dark and gloomy scenes.',
        seed: 42,
        duration: 4,
        aspect_ratio: '9:16',
      },
      route: 'generate',
      body: {
        prompt: 'Generate a video of a sunset over the ocean.',
        negativePrompt: 'Avoid dark and gloomy scenes.',
        settings: { seed: 42, duration: 4, aspectRatio: '9:16' },
      },
    },
    {
      operation: 'image-to-video',
      payload: {
        model: 'haiper',
        image: 'https://images.example.com/cat.png',
        prompt: 'the cat turns its head',
        duration: 2,
      },
      route: 'generate',
      body: {
        prompt: 'the cat turns its head',
        config: { sourceImage: 'https://images.example.com/cat.png' },
        settings: { duration: 2 },
      },
    },
    {
      operation: 'video-upscale',
      payload: { model: 'haiper/haiper-video-2', video: 'https://videos.example.com/clip.mp4' },
      route: 'upscale',
      body: { config: { sourceVideo: 'https://videos.example.com/clip.mp4' } },
    },
    {
      operation: 'video-extend',
      payload: {
        model: 'haiper',
        video: 'https://videos.example.com/clip.mp4',
        prompt: 'the camera keeps rising',
        negative_prompt: 'blur',
        duration: 2,
        guidance_scale: 9,
        seed: 7,
      },
      route: 'extend',
      body: {
        prompt: 'the camera keeps rising',
        negativePrompt: 'blur',
        config: { sourceVideo: 'https://videos.example.com/clip.mp4', extendDuration: 2 },
        settings: { seed: 7, guidanceScale: 9 },
      },
    },
  ];

  for (const c of cases) {
    it(`${c.operation} reaches succeeded with a downloadable MP4 and its expiry`, async () => {
      const before = Date.now();
      const res = await create(t, c.operation, c.payload);
      expect(res.statusCode).toBe(201);
      const created = res.json() as Json;
      expect(created).toMatchObject({
        type: c.operation,
        model: 'haiper/haiper-video-2',
        provider: 'haiper',
        status: 'queued',
      });

      // The Cloudsway request as the emulator received it.
      const [sent] = createCalls(emu);
      expect(createCalls(emu)).toHaveLength(1);
      expect(sent?.path).toBe(`/v1/ai/LPUqHEAjfonOmohV/video/${c.route}`);
      expect(sent?.headers.authorization).toBe(`Bearer ${ACCESS_KEY}`);
      expect(sent?.headers['content-type']).toMatch(/^application\/json/);
      expect(sent?.body).toEqual(c.body);

      const task = await finish(t, created.id as string);
      const after = Date.now();
      expect(task.status).toBe('succeeded');
      expect(task.progress).toBe(1);
      expect(task.error).toBeNull();
      const upstream = task.upstream as { id: string; status: string };
      expect(upstream.status).toBe('SUCCESS');
      expect(pollCalls(emu).at(-1)?.path).toBe(
        `/v1/ai/LPUqHEAjfonOmohV/video/tasks/${upstream.id}`,
      );
      expect(pollCalls(emu).every((p) => p.headers.authorization === `Bearer ${ACCESS_KEY}`)).toBe(
        true,
      );

      const outputs = task.outputs as Output[];
      expect(outputs).toHaveLength(1);
      const [out] = outputs;
      expect(out?.content_type).toBe('video/mp4');
      const expires = Date.parse(out?.expires_at ?? '');
      expect(expires).toBeGreaterThanOrEqual(before + MEDIA_TTL_MS);
      expect(expires).toBeLessThanOrEqual(after + MEDIA_TTL_MS);

      const file = await fetch(out?.url ?? '');
      expect(file.status).toBe(200);
      const bytes = Buffer.from(await file.arrayBuffer());
      expect(bytes.toString('ascii', 4, 8)).toBe('ftyp');
    });
  }

  it('streams a finished output through GET /v1/tasks/{id}/outputs/0 (the emulator origin is trusted)', async () => {
    const res = await create(t, 'text-to-video', { model: 'haiper', prompt: 'stream me' });
    const task = await finish(t, (res.json() as Json).id as string);
    expect(task.status).toBe('succeeded');
    const file = await t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id as string}/outputs/0`,
      headers: auth(),
    });
    seen.push(JSON.stringify(file.headers));
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toMatch(/^video\/mp4/);
    expect(file.rawPayload.toString('ascii', 4, 8)).toBe('ftyp');
  });

  it('upscales an earlier task by id: Haiper receives the media URL of that task', async () => {
    const first = await create(t, 'text-to-video', { model: 'haiper', prompt: 'source clip' });
    const source = await finish(t, (first.json() as Json).id as string);
    const sourceUrl = (source.outputs as Output[])[0]?.url;
    const res = await create(t, 'video-upscale', { model: 'haiper', video: source.id });
    expect(res.statusCode).toBe(201);
    expect(createCalls(emu).at(-1)?.body).toEqual({ config: { sourceVideo: sourceUrl } });
    expect((await finish(t, (res.json() as Json).id as string)).status).toBe('succeeded');
  });

  it('FAIL ends the task failed with upstream_rejected and a clear message', async () => {
    emu.scriptNext('fail');
    const res = await create(t, 'text-to-video', { model: 'haiper', prompt: 'doomed' });
    expect(res.statusCode).toBe(201);
    const task = await finish(t, (res.json() as Json).id as string);
    expect(task.status).toBe('failed');
    expect(task.outputs).toEqual([]);
    expect(task.upstream).toMatchObject({ status: 'FAIL' });
    expect(task.error).toMatchObject({
      code: 'upstream_rejected',
      message: expect.stringMatching(/Haiper reported the job as failed/),
    });
  });

  it('429 and 5xx while polling are retried and the task still completes', async () => {
    const res = await create(t, 'text-to-video', { model: 'haiper', prompt: 'patience' });
    expect(res.statusCode).toBe(201);
    emu.failNext({ kind: 'http429', retryAfter: 1 });
    emu.failNext({ kind: 'http5xx', status: 503 });
    emu.failNext({ kind: 'http5xx', status: 500 });
    const task = await finish(t, (res.json() as Json).id as string);
    expect(task.status).toBe('succeeded');
    // 1 PENDING + 2 IN_PROGRESS + 1 SUCCESS, plus the three faults answered in between.
    expect(pollCalls(emu).length).toBeGreaterThanOrEqual(7);
    const retried = t.logs.filter((l) => l.includes('poll failed, will retry'));
    expect(retried.some((l) => l.includes('upstream_rate_limited'))).toBe(true);
    expect(retried.some((l) => l.includes('"upstream_error"'))).toBe(true);
    expect(createCalls(emu)).toHaveLength(1);
  });

  it('a task Haiper no longer knows (404 on poll) fails with a clear message', async () => {
    const res = await create(t, 'video-upscale', {
      model: 'haiper',
      video: 'https://videos.example.com/clip.mp4',
    });
    expect(res.statusCode).toBe(201);
    emu.reset(); // the emulator forgets every task
    const task = await finish(t, (res.json() as Json).id as string);
    expect(task.status).toBe('failed');
    expect((task.error as Json).message).toMatch(/no longer knows task/);
  });

  it('a 429 on create answers 429 upstream_rate_limited with Retry-After', async () => {
    emu.failNext({ kind: 'http429', retryAfter: 7 });
    const res = await create(t, 'text-to-video', { model: 'haiper', prompt: 'busy' });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ code: 'upstream_rate_limited' });
    expect(res.headers['retry-after']).toBe('7');
    expect(emu.creates).toBe(0);
  });

  it('a 5xx on create answers 502 upstream_outcome_unknown and is never re-sent', async () => {
    emu.failNext({ kind: 'http5xx', status: 502 });
    const res = await create(t, 'text-to-video', { model: 'haiper', prompt: 'x' });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ code: 'upstream_outcome_unknown' });
    expect(createCalls(emu)).toHaveLength(1);
    expect(emu.creates).toBe(0);
  });

  it('accepts an http source video (Haiper takes http and https)', async () => {
    const res = await create(t, 'video-upscale', {
      model: 'haiper',
      video: 'http://videos.example.com/clip.mp4',
    });
    expect(res.statusCode).toBe(201);
    expect(createCalls(emu)[0]?.body).toEqual({
      config: { sourceVideo: 'http://videos.example.com/clip.mp4' },
    });
    expect((await finish(t, (res.json() as Json).id as string)).status).toBe('succeeded');
  });

  const violations: {
    name: string;
    operation: string;
    payload: Json;
    path: string;
    rule: RegExp;
  }[] = [
    {
      name: 'text-to-video duration 3',
      operation: 'text-to-video',
      payload: { model: 'haiper', prompt: 'x', duration: 3 },
      path: 'duration',
      rule: /haiper duration must be 2, 4 or 8/,
    },
    {
      name: 'video-extend duration 8',
      operation: 'video-extend',
      payload: { model: 'haiper', video: 'https://videos.example.com/c.mp4', duration: 8 },
      path: 'duration',
      rule: /haiper extend duration must be 2 or 4/,
    },
    {
      name: 'aspect ratio 21:9',
      operation: 'image-to-video',
      payload: {
        model: 'haiper',
        image: 'https://images.example.com/cat.png',
        prompt: 'x',
        aspect_ratio: '21:9',
      },
      path: 'aspect_ratio',
      rule: /haiper aspect_ratio must be one of 16:9, 9:16, 3:4, 4:3, 1:1/,
    },
  ];

  for (const v of violations) {
    it(`rejects ${v.name} with 400 before any upstream call`, async () => {
      const [calls, creates] = [emu.calls.length, emu.creates];
      const res = await create(t, v.operation, v.payload);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      const problem = res.json() as { code: string; errors: { path: string; message: string }[] };
      expect(problem.code).toBe('invalid_request');
      expect(problem.errors).toEqual([{ path: v.path, message: expect.stringMatching(v.rule) }]);
      expect(emu.creates).toBe(creates);
      expect(emu.calls).toHaveLength(calls);
    });
  }

  it('refuses a data: image without PUBLIC_URL with a clear 400 and no upstream call', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const [calls, creates] = [emu.calls.length, emu.creates];
    const res = await create(t, 'image-to-video', {
      model: 'haiper',
      image: `data:image/png;base64,${png.toString('base64')}`,
      prompt: 'animate',
    });
    expect(res.statusCode).toBe(400);
    const problem = res.json() as { code: string; detail: string; errors: Json[] };
    expect(problem.code).toBe('invalid_request');
    expect(problem.detail).toMatch(/PUBLIC_URL/);
    expect(problem.errors).toEqual([
      { path: 'image', message: expect.stringMatching(/public image URL.*PUBLIC_URL/) },
    ]);
    expect(emu.calls).toHaveLength(calls);
    expect(emu.creates).toBe(creates);
  });
});

describe('haiper progress as clients see it', () => {
  let emu: HaiperEmulator;
  let t: TestApp;

  beforeAll(async () => {
    emu = await startHaiperEmulator({
      accessKeys: [ACCESS_KEY],
      pollsPending: 2,
      pollsInProgress: 3,
    });
    // Slower polls than the default test app, so every step is visible to GET ?wait.
    t = await buildTestApp({
      env: { POLL_INTERVAL_MS: '150', POLL_MAX_INTERVAL_MS: '300' },
      providers: { haiper: settingsFor(emu) },
    });
    apps.push(t);
  });
  afterAll(async () => {
    await emu.close();
  });

  it('PENDING shows as queued, then running with rising progress, then succeeded', async () => {
    const res = await create(t, 'text-to-video', { model: 'haiper', prompt: 'slowly' });
    expect(res.statusCode).toBe(201);
    const first = res.json() as Json;
    expect(first.status).toBe('queued');
    const id = first.id as string;

    const views: { status: string; progress: number | null; upstream: string }[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await send(t, { method: 'GET', url: `/v1/tasks/${id}?wait=2` });
      const task = r.json() as Json;
      views.push({
        status: task.status as string,
        progress: task.progress as number | null,
        upstream: (task.upstream as Json).status as string,
      });
      if (task.status === 'succeeded' || task.status === 'failed') break;
    }
    const statuses = views.map((v) => v.status);
    expect(statuses.at(-1)).toBe('succeeded');
    expect(views.some((v) => v.status === 'queued' && v.upstream === 'PENDING')).toBe(true);
    // Never goes back: queued* running+ succeeded.
    expect(statuses.join(' ')).toMatch(/^(queued )*(running )+succeeded$/);
    const progress = views.filter((v) => v.status === 'running').map((v) => v.progress ?? -1);
    expect(new Set(progress).size).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1] ?? 0);
    }
    expect(progress.every((p) => p > 0 && p < 1)).toBe(true);
    expect(views.every((v) => v.status !== 'running' || v.upstream === 'IN_PROGRESS')).toBe(true);
  });
});

describe('haiper with PUBLIC_URL set', () => {
  let emu: HaiperEmulator;
  let t: TestApp;
  const PUBLIC_URL = 'https://genway.example.com';

  beforeAll(async () => {
    emu = await startHaiperEmulator({ accessKeys: [ACCESS_KEY] });
    t = await buildTestApp({ env: { PUBLIC_URL }, providers: { haiper: settingsFor(emu) } });
    apps.push(t);
  });
  afterAll(async () => {
    await emu.close();
  });

  it('publishes a data: image under PUBLIC_URL and sends Haiper that URL', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const res = await create(t, 'image-to-video', {
      model: 'haiper',
      image: `data:image/png;base64,${png.toString('base64')}`,
      prompt: 'animate',
    });
    expect(res.statusCode).toBe(201);
    const body = createCalls(emu)[0]?.body as { config: { sourceImage: string } };
    const sourceImage = body.config.sourceImage;
    expect(sourceImage.startsWith(`${PUBLIC_URL}/`)).toBe(true);
    // What Haiper would download: the caller's bytes, served by genway without a gateway key.
    const file = await t.app.inject({ method: 'GET', url: sourceImage.slice(PUBLIC_URL.length) });
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toMatch(/^image\/png/);
    expect(file.rawPayload.equals(png)).toBe(true);
    expect((await finish(t, (res.json() as Json).id as string)).status).toBe('succeeded');
  });
});

describe('haiper refusing the gateway key', () => {
  let emu: HaiperEmulator;
  let t: TestApp;
  const WRONG_KEY = 'haiper-wrong-access-key-987654321';

  beforeAll(async () => {
    emu = await startHaiperEmulator({ accessKeys: [ACCESS_KEY] });
    t = await buildTestApp({ providers: { haiper: settingsFor(emu, WRONG_KEY) } });
    apps.push(t);
  });
  afterAll(async () => {
    await emu.close();
  });

  it('answers 502 upstream_auth_failed on create and starts nothing', async () => {
    const res = await create(t, 'text-to-video', { model: 'haiper', prompt: 'x' });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ code: 'upstream_auth_failed' });
    expect(emu.creates).toBe(0);
    expect(emu.calls[0]?.headers.authorization).toBe(`Bearer ${WRONG_KEY}`);
  });
});

describe('haiper secrets', () => {
  it('no upstream key, gateway key or webhook secret in any response or log line', async () => {
    expect(apps.length).toBe(4);
    for (const a of apps) {
      expect(a.secrets).toContain(a.config.providers.haiper?.credentials[0]?.secret);
      expect(findSecrets([...seen, ...a.logs], a.secrets)).toEqual([]);
      await a.close();
    }
  });
});
