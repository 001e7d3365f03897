import { describe, expect, it } from 'vitest';
import { haiperError } from './errors.js';
import {
  expiresAtOf,
  isHaiperOutputUrl,
  toCreateRequest,
  toSnapshot,
  toStartSnapshot,
  upstreamMessageOf,
  validateInput,
} from './mapping.js';
import { HAIPER_MODELS } from './models.js';
import { HaiperCreateAnswerSchema, HaiperTaskAnswerSchema } from './wire.js';

const SECRET = 'haiper-secret-key-0123456789';
const task = (body: unknown) => HaiperTaskAnswerSchema.parse(body);

describe('haiper rules (validate)', () => {
  it('accepts the documented durations and aspect ratios', () => {
    for (const duration of [2, 4, 8]) {
      for (const aspect_ratio of ['16:9', '9:16', '3:4', '4:3', '1:1']) {
        expect(validateInput('text-to-video', { prompt: 'p', duration, aspect_ratio })).toEqual([]);
      }
    }
    expect(validateInput('video-extend', { video: 'https://x/v.mp4', duration: 2 })).toEqual([]);
    expect(validateInput('video-extend', { video: 'https://x/v.mp4', duration: 4 })).toEqual([]);
    expect(validateInput('video-upscale', { video: 'https://x/v.mp4' })).toEqual([]);
  });

  it('names the broken rule for generate durations and aspect ratios', () => {
    expect(validateInput('text-to-video', { prompt: 'p', duration: 3 })).toEqual([
      { path: 'duration', message: 'haiper duration must be 2, 4 or 8 (seconds)' },
    ]);
    const errors = validateInput('image-to-video', {
      prompt: 'p',
      image: 'https://x/a.png',
      duration: 5,
      aspect_ratio: '21:9',
    });
    expect(errors.map((e) => e.path)).toEqual(['duration', 'aspect_ratio']);
    expect(errors[1]?.message).toBe('haiper aspect_ratio must be one of 16:9, 9:16, 3:4, 4:3, 1:1');
  });

  it('limits extend durations to 2 or 4', () => {
    expect(validateInput('video-extend', { video: 'https://x/v.mp4', duration: 8 })).toEqual([
      { path: 'duration', message: 'haiper extend duration must be 2 or 4 (seconds added)' },
    ]);
  });

  it('requires a prompt for image-to-video and rejects fields Haiper cannot honour', () => {
    expect(validateInput('image-to-video', { image: 'https://x/a.png' })).toEqual([
      { path: 'prompt', message: 'haiper needs a prompt for image-to-video' },
    ]);
    const errors = validateInput('text-to-video', {
      prompt: 'p',
      width: 512,
      resolution: '720p',
      provider_options: { gen_mode: 'smooth' },
    });
    expect(errors.map((e) => e.path)).toEqual(['width', 'resolution', 'provider_options.gen_mode']);
  });

  it('publishes one default model serving all four operations, with its limits', () => {
    expect(HAIPER_MODELS).toHaveLength(1);
    const [model] = HAIPER_MODELS;
    expect(model?.isDefault).toBe(true);
    expect(model?.operations).toEqual([
      'text-to-video',
      'image-to-video',
      'video-upscale',
      'video-extend',
    ]);
    expect(model?.limits).toMatchObject({
      'text-to-video': {
        duration: { values: [2, 4, 8] },
        aspect_ratio: { values: ['16:9', '9:16', '3:4', '4:3', '1:1'] },
      },
      'video-extend': { duration: { values: [2, 4] } },
    });
  });
});

describe('haiper create bodies', () => {
  it('text-to-video → generate with settings', () => {
    expect(
      toCreateRequest('text-to-video', {
        prompt: 'sunset',
        negative_prompt: 'gloomy',
        seed: 42,
        duration: 4,
        aspect_ratio: '9:16',
      }),
    ).toEqual({
      route: 'generate',
      body: {
        prompt: 'sunset',
        negativePrompt: 'gloomy',
        settings: { seed: 42, duration: 4, aspectRatio: '9:16' },
      },
    });
    // Upstream defaults apply when nothing is given: no empty settings object.
    expect(toCreateRequest('text-to-video', { prompt: 'x' }).body).toEqual({ prompt: 'x' });
  });

  it('image-to-video → generate with config.sourceImage', () => {
    expect(
      toCreateRequest(
        'image-to-video',
        { prompt: 'turn', image: 'data:...' },
        { sourceImage: 'https://cdn/a.png' },
      ),
    ).toEqual({
      route: 'generate',
      body: { prompt: 'turn', config: { sourceImage: 'https://cdn/a.png' } },
    });
  });

  it('video-upscale → upscale with config.sourceVideo only', () => {
    expect(
      toCreateRequest(
        'video-upscale',
        { video: 'https://cdn/v.mp4', seed: 1 },
        {
          video: 'https://cdn/v.mp4',
        },
      ),
    ).toEqual({ route: 'upscale', body: { config: { sourceVideo: 'https://cdn/v.mp4' } } });
  });

  it('video-extend → extend with extendDuration and guidanceScale', () => {
    expect(
      toCreateRequest(
        'video-extend',
        {
          video: 'https://cdn/v.mp4',
          prompt: 'rise',
          negative_prompt: 'blur',
          duration: 2,
          guidance_scale: 9,
          seed: 7,
        },
        { video: 'https://cdn/v.mp4' },
      ),
    ).toEqual({
      route: 'extend',
      body: {
        prompt: 'rise',
        negativePrompt: 'blur',
        config: { sourceVideo: 'https://cdn/v.mp4', extendDuration: 2 },
        settings: { seed: 7, guidanceScale: 9 },
      },
    });
  });

  it('rejects operations Haiper does not serve', () => {
    expect(() => toCreateRequest('text-to-image', { prompt: 'x' })).toThrow(/text-to-image/);
  });
});

describe('haiper statuses', () => {
  it('reads the create answer (string or numeric taskId) as a queued task', () => {
    expect(toStartSnapshot(HaiperCreateAnswerSchema.parse({ taskId: '1234abcd' }))).toEqual({
      upstreamId: '1234abcd',
      upstreamStatus: 'PENDING',
      status: 'queued',
    });
    expect(HaiperCreateAnswerSchema.parse({ taskId: 99 }).taskId).toBe('99');
    expect(HaiperCreateAnswerSchema.safeParse({}).success).toBe(false);
  });

  it('PENDING → queued, IN_PROGRESS → running with progress', () => {
    expect(toSnapshot(task({ status: 'PENDING', progress: 0 }), 't1', [])).toMatchObject({
      status: 'queued',
      upstreamStatus: 'PENDING',
      upstreamId: 't1',
    });
    expect(toSnapshot(task({ status: 'IN_PROGRESS', progress: 0.4 }), 't1', [])).toEqual({
      upstreamId: 't1',
      upstreamStatus: 'IN_PROGRESS',
      status: 'running',
      progress: 0.4,
    });
    expect(toSnapshot(task({ status: 'IN_PROGRESS', progress: 3 }), 't1', []).progress).toBe(1);
  });

  it('SUCCESS → succeeded even when progress is below 1 (the doc example says 0.85)', () => {
    const s = toSnapshot(
      task({
        status: 'SUCCESS',
        mediaUrl: 'https://generated-video-url.mp4',
        expireTime: 1724241996259,
        progress: 0.85,
      }),
      't1',
      [],
    );
    expect(s).toMatchObject({ status: 'succeeded', upstreamStatus: 'SUCCESS' });
    expect(s.outputs).toEqual([
      {
        url: 'https://generated-video-url.mp4',
        contentType: 'video/mp4',
        expiresAt: 1724241996259,
      },
    ]);
  });

  it('takes the content type from the URL, else video/mp4, and tolerates no expireTime', () => {
    const webm = toSnapshot(
      task({ status: 'SUCCESS', mediaUrl: 'https://c/v.webm?sig=1' }),
      't',
      [],
    );
    expect(webm.outputs?.[0]).toEqual({
      url: 'https://c/v.webm?sig=1',
      contentType: 'video/webm',
      expiresAt: null,
    });
    const bare = toSnapshot(task({ status: 'SUCCESS', mediaUrl: 'https://c/get?id=1' }), 't', []);
    expect(bare.outputs?.[0]?.contentType).toBe('video/mp4');
    expect(expiresAtOf(1724241996)).toBe(1724241996000);
  });

  it('SUCCESS without a usable mediaUrl is a bad response', () => {
    expect(toSnapshot(task({ status: 'SUCCESS' }), 't', [])).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_bad_response' },
    });
    expect(
      toSnapshot(task({ status: 'SUCCESS', mediaUrl: 'file:///etc/x' }), 't', []),
    ).toMatchObject({ status: 'failed' });
  });

  it('FAIL → failed upstream_rejected with a clear message (no error field documented)', () => {
    const s = toSnapshot(task({ status: 'FAIL', progress: 0.5 }), 't', []);
    expect(s.status).toBe('failed');
    expect(s.error?.code).toBe('upstream_rejected');
    expect(s.error?.message).toMatch(/Haiper reported the job as failed.*no reason/);
    const withReason = toSnapshot(
      task({ status: 'FAIL', error: { message: `bad key ${SECRET}`, code: 'VB-100017' } }),
      't',
      [SECRET],
    );
    expect(withReason.error?.message).toBe(
      'Haiper reported the job as failed: bad key [redacted] (code VB-100017)',
    );
  });

  it('an unknown status fails the task as a bad response', () => {
    expect(toSnapshot(task({ status: 'WEIRD' }), 't', [])).toMatchObject({
      status: 'failed',
      upstreamStatus: 'WEIRD',
      error: { code: 'upstream_bad_response' },
    });
  });
});

describe('haiper errors', () => {
  const res = (status: number, json?: unknown, headers: Record<string, string> = {}) => ({
    status,
    json,
    headers,
  });

  it('maps by HTTP status', () => {
    expect(haiperError(res(401), [], { phase: 'create' })).toMatchObject({
      code: 'upstream_auth_failed',
      status: 502,
      retryable: false,
    });
    expect(haiperError(res(403), [], { phase: 'poll' }).code).toBe('upstream_auth_failed');
    expect(
      haiperError(res(429, undefined, { 'retry-after': '3' }), [], { phase: 'poll' }),
    ).toMatchObject({ code: 'upstream_rate_limited', retryable: true, retryAfterMs: 3000 });
    expect(haiperError(res(503), [], { phase: 'poll' })).toMatchObject({
      code: 'upstream_error',
      retryable: true,
    });
    expect(haiperError(res(404), [], { phase: 'poll', taskId: 'abc' })).toMatchObject({
      code: 'upstream_error',
      retryable: false,
      message: expect.stringMatching(/no longer knows task abc/),
    });
    expect(haiperError(res(404), [], { phase: 'create' }).message).toMatch(/HAIPER_ENDPOINT_PATH/);
  });

  it('400 → upstream_rejected carrying the scrubbed upstream message', () => {
    const err = haiperError(
      res(400, { error: { message: `settings.duration: invalid for ${SECRET}`, code: 'invalid' } }),
      [SECRET],
      { phase: 'create' },
    );
    expect(err.code).toBe('upstream_rejected');
    expect(err.message).toBe(
      'Haiper rejected the request (HTTP 400: settings.duration: invalid for [redacted] (code invalid))',
    );
    expect(err.message).not.toContain(SECRET);
  });

  it('reads the few error shapes proxies send', () => {
    expect(upstreamMessageOf({ error: 'nope' })).toBe('nope');
    expect(upstreamMessageOf({ message: 'hm' })).toBe('hm');
    expect(upstreamMessageOf('<html>')).toBeUndefined();
    expect(upstreamMessageOf(undefined)).toBeUndefined();
  });
});

describe('haiper output URLs genway may fetch', () => {
  const origin = 'https://genaiapi.cloudsway.net';
  it('trusts the configured origin and https links on the provider domains only', () => {
    expect(isHaiperOutputUrl('https://genaiapi.cloudsway.net/media/v.mp4', origin)).toBe(true);
    expect(isHaiperOutputUrl('https://cdn.cloudsway.net/v.mp4?sig=1', origin)).toBe(true);
    expect(isHaiperOutputUrl('https://static.haiper.ai/v.mp4', origin)).toBe(true);
    expect(isHaiperOutputUrl('http://cdn.cloudsway.net/v.mp4', origin)).toBe(false);
    expect(isHaiperOutputUrl('https://cdn.cloudsway.net:8443/v.mp4', origin)).toBe(false);
    expect(isHaiperOutputUrl('https://evilcloudsway.net/v.mp4', origin)).toBe(false);
    expect(isHaiperOutputUrl('https://u:p@cdn.cloudsway.net/v.mp4', origin)).toBe(false);
    expect(isHaiperOutputUrl('http://169.254.169.254/latest', origin)).toBe(false);
    expect(isHaiperOutputUrl('not a url', origin)).toBe(false);
  });
});
