import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PixverseSettings } from '../src/providers/pixverse/index.js';
import { makePng } from '../src/emulators/shared/png.js';
import {
  startPixverseEmulator,
  type PixverseEmulator,
  type PixverseFault,
} from '../src/emulators/pixverse/server.js';
import { createTaskStore } from '../src/store/index.js';
import {
  KEY_A,
  KEY_B,
  auth,
  buildTestApp,
  findSecrets,
  waitForTerminal,
  type TestApp,
} from './helpers/test-app.js';

/** Long, distinctive upstream keys, so a leak anywhere shows up in a plain text search. */
const PX_KEY = 'px-upstream-key-5c2e8a1f9b3d7e4a0f6b';
const PX_BAD_KEY = 'px-upstream-key-revoked-1a2b3c4d5e6f';
const SECRETS = [PX_KEY, PX_BAD_KEY, KEY_A, KEY_B];

type Json = Record<string, unknown>;
const isMp4 = (b: Buffer) => b.subarray(4, 8).toString('ascii') === 'ftyp';

let emu: PixverseEmulator;
/** Every app this file builds, for the secret scan of their logs. */
const apps: TestApp[] = [];
/** Every response body and header set received. */
const captured: string[] = [];

const settings = (secret = PX_KEY): { pixverse: PixverseSettings } => ({
  pixverse: {
    baseUrl: emu.baseUrl,
    credentials: [{ id: 'pixverse-1', secret }],
    emulated: false,
  },
});

async function newApp(secret = PX_KEY, poller = true): Promise<TestApp> {
  const store = createTaskStore('memory:');
  const t = await buildTestApp({ providers: settings(secret), poller, store });
  apps.push(t);
  return t;
}

/** An app without the background poller: the test polls by hand, one upstream call at a time. */
async function manualApp() {
  const store = createTaskStore('memory:');
  const t = await buildTestApp({ providers: settings(), poller: false, store });
  apps.push(t);
  const pollOnce = async (id: string): Promise<Json> => {
    await t.app.tasks.poll((await store.get(id))!);
    return (
      await inject(t, { method: 'GET', url: `/v1/tasks/${id}`, headers: auth() })
    ).json<Json>();
  };
  return { t, store, pollOnce };
}

async function inject(t: TestApp, opts: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await t.app.inject(opts);
  captured.push(JSON.stringify(res.headers), res.body);
  return res;
}

const create = (t: TestApp, operation: string, body: Json) =>
  inject(t, { method: 'POST', url: `/v1/${operation}`, headers: auth(), payload: body });

async function waitDone(t: TestApp, id: string): Promise<Json> {
  const capturing = {
    inject: (opts: InjectOptions) => inject(t, opts),
  } as unknown as TestApp['app'];
  return waitForTerminal(capturing, id);
}

const callsTo = (path: string) =>
  emu.calls.filter((c) => c.path.startsWith(emu.baseUrl.slice(emu.url.length) + path));
const lastCallTo = (path: string) => callsTo(path).at(-1);

async function download(url: string): Promise<{ status: number; type: string; body: Buffer }> {
  const res = await fetch(url);
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: Buffer.from(await res.arrayBuffer()),
  };
}

const pngDataUrl = (png = makePng(48, 32, 5)) => `data:image/png;base64,${png.toString('base64')}`;

let app: TestApp;

beforeAll(async () => {
  // A high concurrency cap: 500044 is scripted where it is tested.
  emu = await startPixverseEmulator({ apiKeys: [PX_KEY], maxConcurrent: 100, pollsUntilDone: 2 });
  app = await newApp();
});

afterAll(async () => {
  for (const t of apps) await t.close();
  await emu.close();
});

afterEach(() => {
  expect(findSecrets([...captured, ...apps.flatMap((t) => t.logs)], SECRETS)).toEqual([]);
});

describe('PixVerse text-to-video, end to end', () => {
  it('creates with API-KEY and a trace id, polls to succeeded and serves an MP4', async () => {
    const res = await create(app, 'text-to-video', {
      model: 'pixverse/v5',
      prompt: 'a cat surfing a wave at sunset',
      negative_prompt: 'blurry',
      duration: 8,
      resolution: '720p',
      aspect_ratio: '9:16',
      seed: 42,
      metadata: { order: '42' },
    });
    expect(res.statusCode).toBe(201);
    const created = res.json<Json>();
    expect(created).toMatchObject({
      type: 'text-to-video',
      model: 'pixverse/v5',
      provider: 'pixverse',
      status: 'running',
      upstream: { id: expect.stringMatching(/^\d{12}$/), status: '5' },
      metadata: { order: '42' },
    });

    const generate = lastCallTo('/video/text/generate')!;
    expect(generate.headers['api-key']).toBe(PX_KEY);
    expect(generate.headers['ai-trace-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(generate.body).toEqual({
      model: 'v5',
      prompt: 'a cat surfing a wave at sunset',
      negative_prompt: 'blurry',
      duration: 8,
      quality: '720p',
      aspect_ratio: '9:16',
      seed: 42,
    });

    const done = await waitDone(app, created.id as string);
    expect(done).toMatchObject({ status: 'succeeded', upstream: { status: '1' }, error: null });
    const outputs = done.outputs as { url: string; content_type: string }[];
    expect(outputs).toHaveLength(1);
    expect(outputs[0]!.content_type).toBe('video/mp4');
    const file = await download(outputs[0]!.url);
    expect(file.status).toBe(200);
    expect(file.type).toBe('video/mp4');
    expect(isMp4(file.body)).toBe(true);
    // The same file streamed through genway: the output URL is on the configured origin.
    const through = await inject(app, {
      method: 'GET',
      url: `/v1/tasks/${created.id as string}/outputs/0`,
      headers: auth(),
    });
    expect(through.statusCode).toBe(200);
    expect(isMp4(through.rawPayload)).toBe(true);

    const upstreamId = (created.upstream as Json).id as string;
    const polls = callsTo(`/video/result/${upstreamId}`);
    expect(polls.length).toBe(3);
    for (const p of polls) expect(p.headers['api-key']).toBe(PX_KEY);
  });

  it('`pixverse` alone is v5 with 5 s, 540p and 16:9 by default', async () => {
    const res = await create(app, 'text-to-video', {
      model: 'pixverse',
      prompt: 'rain on a window',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json<Json>().model).toBe('pixverse/v5');
    expect(lastCallTo('/video/text/generate')!.body).toEqual({
      model: 'v5',
      prompt: 'rain on a window',
      duration: 5,
      quality: '540p',
      aspect_ratio: '16:9',
    });
    expect((await waitDone(app, res.json<Json>().id as string)).status).toBe('succeeded');
  });

  it('passes allow-listed provider_options through', async () => {
    const res = await create(app, 'text-to-video', {
      model: 'pixverse/v4',
      prompt: 'a drone shot over a forest',
      resolution: '360p',
      provider_options: { camera_movement: 'zoom_in', motion_mode: 'fast', water_mark: false },
    });
    expect(res.statusCode).toBe(201);
    expect(lastCallTo('/video/text/generate')!.body).toMatchObject({
      model: 'v4',
      camera_movement: 'zoom_in',
      motion_mode: 'fast',
      water_mark: false,
      quality: '360p',
    });
    expect((await waitDone(app, res.json<Json>().id as string)).status).toBe('succeeded');
  });
});

describe('PixVerse image-to-video, end to end', () => {
  it('uploads an https image as image_url, generates with its img_id and succeeds', async () => {
    const res = await create(app, 'image-to-video', {
      model: 'pixverse/v5',
      image: 'https://example.com/cat.png',
      prompt: 'the cat turns its head',
      resolution: '720p',
    });
    expect(res.statusCode).toBe(201);
    const upload = lastCallTo('/image/upload')!;
    expect(upload.headers['api-key']).toBe(PX_KEY);
    expect(String(upload.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
    expect(upload.body).toEqual({
      fields: { image_url: 'https://example.com/cat.png' },
      files: [],
    });
    const generate = lastCallTo('/video/img/generate')!;
    expect(generate.body).toEqual({
      model: 'v5',
      prompt: 'the cat turns its head',
      duration: 5,
      quality: '720p',
      img_id: expect.any(Number),
    });
    expect(generate.headers['ai-trace-id']).not.toBe(upload.headers['ai-trace-id']);

    const done = await waitDone(app, res.json<Json>().id as string);
    expect(done).toMatchObject({
      type: 'image-to-video',
      status: 'succeeded',
      upstream: { status: '1' },
    });
    const [output] = done.outputs as { url: string; content_type: string }[];
    expect(output!.content_type).toBe('video/mp4');
    expect(isMp4((await download(output!.url)).body)).toBe(true);
  });

  it('uploads a data: PNG as the multipart image file', async () => {
    const png = makePng(48, 32, 5);
    const res = await create(app, 'image-to-video', {
      model: 'pixverse/v6',
      image: pngDataUrl(png),
      prompt: 'the colours drift',
      duration: 12,
      resolution: '1080p',
    });
    expect(res.statusCode).toBe(201);
    expect(lastCallTo('/image/upload')!.body).toEqual({
      fields: {},
      files: [{ field: 'image', filename: 'image.png', mimetype: 'image/png', size: png.length }],
    });
    expect(lastCallTo('/video/img/generate')!.body).toMatchObject({
      model: 'v6',
      duration: 12,
      quality: '1080p',
      img_id: expect.any(Number),
    });
    const done = await waitDone(app, res.json<Json>().id as string);
    expect(done.status).toBe('succeeded');
    const [output] = done.outputs as { url: string }[];
    expect(isMp4((await download(output!.url)).body)).toBe(true);
  });
});

describe('PixVerse statuses', () => {
  it.each([
    ['success', 'succeeded', '1', null],
    ['moderation', 'failed', '7', 'moderation_failed'],
    ['failed', 'failed', '8', 'upstream_rejected'],
    ['deleted', 'failed', '6', 'upstream_rejected'],
  ] as const)('%s → %s (upstream status %s)', async (outcome, status, raw, code) => {
    emu.scriptNext(outcome);
    const res = await create(app, 'text-to-video', { model: 'pixverse/v5.5', prompt: 'waves' });
    expect(res.statusCode).toBe(201);
    const done = await waitDone(app, res.json<Json>().id as string);
    expect(done).toMatchObject({ status, upstream: { status: raw } });
    if (code === null) {
      expect(done.error).toBeNull();
    } else {
      expect((done.error as Json).code).toBe(code);
      expect(done.outputs).toEqual([]);
    }
  });

  it('status 5 keeps the task running until the final status (polls driven by hand)', async () => {
    const m = await manualApp();
    emu.scriptNext({ status: 7, afterPolls: 2 });
    const res = await create(m.t, 'text-to-video', { model: 'pixverse', prompt: 'waves' });
    const id = res.json<Json>().id as string;
    for (let i = 0; i < 2; i++) {
      expect(await m.pollOnce(id)).toMatchObject({ status: 'running', upstream: { status: '5' } });
    }
    expect(await m.pollOnce(id)).toMatchObject({
      status: 'failed',
      upstream: { status: '7' },
      error: { code: 'moderation_failed' },
    });
  });
});

describe('PixVerse errors', () => {
  const createErrors: [string, number, string, PixverseFault][] = [
    ['400011 empty parameter', 422, 'upstream_rejected', { kind: 'errcode', code: 400011 }],
    ['400013 invalid binding', 422, 'upstream_rejected', { kind: 'errcode', code: 400013 }],
    ['400017 invalid parameter', 422, 'upstream_rejected', { kind: 'errcode', code: 400017 }],
    ['400018 prompt too long', 422, 'upstream_rejected', { kind: 'errcode', code: 400018 }],
    [
      '400019 negative prompt too long',
      422,
      'upstream_rejected',
      { kind: 'errcode', code: 400019 },
    ],
    [
      '500043 credits used up',
      502,
      'upstream_credits_exhausted',
      { kind: 'errcode', code: 500043 },
    ],
    [
      '500090 insufficient balance',
      502,
      'upstream_credits_exhausted',
      { kind: 'errcode', code: 500090 },
    ],
    ['500044 concurrency limit', 429, 'upstream_rate_limited', { kind: 'errcode', code: 500044 }],
    ['500054 moderation', 422, 'moderation_failed', { kind: 'errcode', code: 500054 }],
    ['500063 moderation', 422, 'moderation_failed', { kind: 'errcode', code: 500063 }],
    ['500069 overload', 502, 'upstream_error', { kind: 'errcode', code: 500069 }],
    ['10002 auth', 502, 'upstream_auth_failed', { kind: 'errcode', code: 10002 }],
    ['500020 no permission', 502, 'upstream_auth_failed', { kind: 'errcode', code: 500020 }],
    // A bare 5xx may hide a started job (an ErrCode answer, like 500069, is definitive).
    ['plain HTTP 500', 502, 'upstream_outcome_unknown', { kind: 'http500' }],
    ['HTTP 429', 429, 'upstream_rate_limited', { kind: 'http429', retryAfter: 3 }],
  ];

  it.each(createErrors)(
    'a create answered with %s is %i %s',
    async (_name, status, code, fault) => {
      const creates = emu.creates;
      emu.failNext(fault);
      const res = await create(app, 'text-to-video', { model: 'pixverse/v5', prompt: 'waves' });
      expect(res.statusCode).toBe(status);
      expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
      expect(res.json<Json>()).toMatchObject({ code, status });
      if (code === 'upstream_rate_limited')
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      if (fault.kind === 'http429') expect(res.headers['retry-after']).toBe('3');
      expect(emu.creates).toBe(creates);
    },
  );

  it.each([400032, 500030, 500031, 500032, 500033, 500041, 500042])(
    'an upload answered with image error %i is 422 upstream_rejected naming the image',
    async (code) => {
      const creates = emu.creates;
      emu.failNext({ kind: 'errcode', code });
      const res = await create(app, 'image-to-video', {
        model: 'pixverse/v5',
        image: pngDataUrl(),
        prompt: 'turns',
      });
      expect(res.statusCode).toBe(422);
      const problem = res.json<Json>();
      expect(problem.code).toBe('upstream_rejected');
      expect(problem.detail).toMatch(new RegExp(`could not use the image.*ErrCode ${code}`));
      expect(emu.creates).toBe(creates);
    },
  );

  it('an upload refused by moderation (HTTP 500, lower-case envelope) is moderation_failed', async () => {
    const creates = emu.creates;
    const res = await create(app, 'image-to-video', {
      model: 'pixverse/v5',
      image: 'https://example.com/moderation.png',
      prompt: 'turns',
    });
    expect(res.statusCode).toBe(422);
    expect(res.json<Json>()).toMatchObject({ code: 'moderation_failed' });
    expect(res.json<Json>().detail).toMatch(/ErrCode 500054/);
    expect(emu.creates).toBe(creates);
  });

  it('transient poll failures are retried with fresh trace ids until the video is done', async () => {
    const res = await create(app, 'text-to-video', { model: 'pixverse/v5', prompt: 'waves' });
    expect(res.statusCode).toBe(201);
    const upstreamId = (res.json<Json>().upstream as Json).id as string;
    emu.failNext({ kind: 'http500' });
    emu.failNext({ kind: 'errcode', code: 99999 });
    emu.failNext({ kind: 'http429', retryAfter: 0 });
    emu.failNext({ kind: 'errcode', code: 500100 });
    const done = await waitDone(app, res.json<Json>().id as string);
    expect(done).toMatchObject({ status: 'succeeded', upstream: { status: '1' } });
    const polls = callsTo(`/video/result/${upstreamId}`);
    // 4 failed + 3 answered polls, each with its own trace id.
    expect(polls).toHaveLength(7);
    const ids = polls.map((p) => p.headers['ai-trace-id']);
    expect(new Set(ids).size).toBe(7);
  });

  it('overload (500069) and the concurrency limit (500044) on a poll push the next poll back', async () => {
    const m = await manualApp();
    const res = await create(m.t, 'text-to-video', { model: 'pixverse', prompt: 'waves' });
    const id = res.json<Json>().id as string;
    for (const [code, hintMs] of [
      [500069, 5_000],
      [500044, 15_000],
    ] as const) {
      emu.failNext({ kind: 'errcode', code });
      const before = Date.now();
      expect(await m.pollOnce(id)).toMatchObject({ status: 'running', error: null });
      const record = await m.store.get(id);
      expect(record!.nextPollAt! - before).toBeGreaterThanOrEqual(hintMs);
    }
    let last: Json = {};
    for (let i = 0; i < 3; i++) last = await m.pollOnce(id);
    expect(last).toMatchObject({ status: 'succeeded', upstream: { status: '1' } });
  });

  it('a poll answered with a permanent error fails the task', async () => {
    const res = await create(app, 'text-to-video', { model: 'pixverse/v5', prompt: 'waves' });
    emu.failNext({ kind: 'errcode', code: 500090 });
    const done = await waitDone(app, res.json<Json>().id as string);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'upstream_credits_exhausted' } });
  });

  it('a key PixVerse refuses is 502 upstream_auth_failed, not the caller’s fault', async () => {
    const bad = await newApp(PX_BAD_KEY);
    const creates = emu.creates;
    const res = await create(bad, 'text-to-video', { model: 'pixverse/v5', prompt: 'waves' });
    expect(res.statusCode).toBe(502);
    expect(res.json<Json>()).toMatchObject({ code: 'upstream_auth_failed' });
    expect(lastCallTo('/video/text/generate')!.headers['api-key']).toBe(PX_BAD_KEY);
    expect(emu.creates).toBe(creates);

    const i2v = await create(bad, 'image-to-video', {
      model: 'pixverse/v5',
      image: pngDataUrl(),
      prompt: 'turns',
    });
    expect(i2v.statusCode).toBe(502);
    expect(i2v.json<Json>()).toMatchObject({ code: 'upstream_auth_failed' });
  });
});

describe('PixVerse model rules, before any upstream call', () => {
  const violations: [string, string, Json, { path: string; message: string }[]][] = [
    [
      'v5 at 1080p for 10 s',
      'text-to-video',
      { model: 'pixverse/v5', resolution: '1080p', duration: 10 },
      [{ path: 'duration', message: 'pixverse v5 at 1080p allows durations 5, 8 (got 10)' }],
    ],
    [
      'v5.5 at 1080p for 10 s',
      'image-to-video',
      {
        model: 'pixverse/v5.5',
        resolution: '1080p',
        duration: 10,
        image: 'https://example.com/a.png',
      },
      [{ path: 'duration', message: 'pixverse v5.5 at 1080p allows durations 5, 8 (got 10)' }],
    ],
    [
      'fast motion for 8 s',
      'text-to-video',
      { model: 'pixverse/v4', duration: 8, provider_options: { motion_mode: 'fast' } },
      [
        {
          path: 'provider_options.motion_mode',
          message: 'pixverse motion_mode fast allows only duration 5 (got 8)',
        },
      ],
    ],
    [
      'style on v5',
      'text-to-video',
      { model: 'pixverse/v5', provider_options: { style: 'anime' } },
      [
        {
          path: 'provider_options.style',
          message: 'pixverse style is only available on v3.5 (not v5)',
        },
      ],
    ],
    [
      'an unknown quality and aspect ratio',
      'text-to-video',
      { model: 'pixverse/v5', resolution: '480p', aspect_ratio: '2:1' },
      [
        {
          path: 'resolution',
          message: 'pixverse resolution must be one of 360p, 540p, 720p, 1080p',
        },
        {
          path: 'aspect_ratio',
          message: 'pixverse aspect_ratio must be one of 16:9, 4:3, 1:1, 3:4, 9:16',
        },
      ],
    ],
    [
      'a prompt over 2048 characters',
      'text-to-video',
      { model: 'pixverse/v5', prompt: 'x'.repeat(2049) },
      [{ path: 'prompt', message: 'pixverse prompt allows at most 2048 characters' }],
    ],
    [
      'an unknown provider option',
      'text-to-video',
      { model: 'pixverse/v5', provider_options: { lora_model: 'x' } },
      [
        {
          path: 'provider_options.lora_model',
          message: expect.stringContaining('not an option of pixverse') as string,
        },
      ],
    ],
    [
      'a GIF data: image',
      'image-to-video',
      { model: 'pixverse/v5', image: 'data:image/gif;base64,R0lGODlhAQABAAAAACw=' },
      [{ path: 'image', message: expect.stringContaining('image/gif') as string }],
    ],
  ];

  it.each(violations)(
    'refuses %s with 400 naming the rule',
    async (_name, operation, body, errors) => {
      const calls = emu.calls.length;
      const creates = emu.creates;
      const res = await create(app, operation, { prompt: 'waves', ...body });
      expect(res.statusCode).toBe(400);
      expect(res.json<Json>()).toMatchObject({ code: 'invalid_request', errors });
      expect(emu.calls.length).toBe(calls);
      expect(emu.creates).toBe(creates);
    },
  );
});

describe('PixVerse in GET /v1/models', () => {
  it('lists every model with both operations and its published rules', async () => {
    const res = await inject(app, { method: 'GET', url: '/v1/models', headers: auth() });
    const models = (res.json<Json>().data as Json[]).filter((m) => m.provider === 'pixverse');
    expect(models.map((m) => m.id)).toEqual([
      'pixverse/v3.5',
      'pixverse/v4',
      'pixverse/v4.5',
      'pixverse/v5',
      'pixverse/v5.5',
      'pixverse/v5.6',
      'pixverse/v6',
      'pixverse/c1',
    ]);
    const v5 = models.find((m) => m.id === 'pixverse/v5')!;
    expect(v5).toMatchObject({
      operations: ['text-to-video', 'image-to-video'],
      emulated: false,
      limits: {
        durations: { '1080p': [5, 8] },
        resolutions: ['360p', '540p', '720p', '1080p'],
        defaults: { duration: 5, resolution: '540p', aspect_ratio: '16:9' },
      },
    });
  });
});

describe('PixVerse trace ids', () => {
  it('every PixVerse request of this file carried its own Ai-trace-id', () => {
    const apiCalls = callsTo('/');
    expect(apiCalls.length).toBeGreaterThan(40);
    expect(apiCalls.every((c) => typeof c.headers['ai-trace-id'] === 'string')).toBe(true);
    expect(emu.traceIds).toHaveLength(apiCalls.length);
    expect(new Set(emu.traceIds).size).toBe(emu.traceIds.length);
  });
});
