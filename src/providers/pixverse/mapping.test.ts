import { describe, expect, it } from 'vitest';
import type { GenerationInput } from '../../domain/ports.js';
import { makePng } from '../../emulators/shared/png.js';
import {
  formatDurations,
  imageSourceOf,
  isPixverseOutputUrl,
  resultToSnapshot,
  toGenerateBody,
  validateInput,
} from './mapping.js';
import { PIXVERSE_MODEL_NAMES, PIXVERSE_MODELS, PIXVERSE_RULES, QUALITIES } from './models.js';

const t2v = (model: string, input: GenerationInput) =>
  validateInput('text-to-video', model, { prompt: 'a cat surfing', ...input });
const i2v = (model: string, input: GenerationInput) =>
  validateInput('image-to-video', model, {
    prompt: 'the cat turns its head',
    image: 'https://example.com/cat.png',
    ...input,
  });
const paths = (errors: { path: string }[]) => errors.map((e) => e.path);
const pngDataUrl = () => `data:image/png;base64,${makePng(16, 16, 3).toString('base64')}`;

describe('pixverse model rules (validate)', () => {
  it('accepts the defaults on every model, for both operations', () => {
    for (const model of PIXVERSE_MODEL_NAMES) {
      expect(t2v(model, {})).toEqual([]);
      expect(i2v(model, {})).toEqual([]);
    }
  });

  it.each([
    ['v3.5', '1080p', 8, 'pixverse v3.5 at 1080p allows durations 5 (got 8)'],
    ['v3.5', '720p', 10, 'pixverse v3.5 at 720p allows durations 5, 8 (got 10)'],
    ['v4', '540p', 10, 'pixverse v4 at 540p allows durations 5, 8 (got 10)'],
    ['v4.5', '360p', 6, 'pixverse v4.5 at 360p allows durations 5, 8 (got 6)'],
    ['v5', '1080p', 10, 'pixverse v5 at 1080p allows durations 5, 8 (got 10)'],
    ['v5.5', '1080p', 10, 'pixverse v5.5 at 1080p allows durations 5, 8 (got 10)'],
    ['v5.6', '1080p', 10, 'pixverse v5.6 at 1080p allows durations 5, 8 (got 10)'],
    ['v5.6', '720p', 12, 'pixverse v5.6 at 720p allows durations 5, 8, 10 (got 12)'],
    ['v6', '720p', 16, 'pixverse v6 at 720p allows durations 1-15 (got 16)'],
    ['c1', '1080p', 20, 'pixverse c1 at 1080p allows durations 1-15 (got 20)'],
  ])('%s at %s refuses %i s', (model, resolution, duration, message) => {
    expect(t2v(model, { resolution, duration })).toEqual([{ path: 'duration', message }]);
    expect(i2v(model, { resolution, duration })).toEqual([{ path: 'duration', message }]);
  });

  it.each([
    ['v3.5', '720p', 8],
    ['v4', '1080p', 8],
    ['v5', '1080p', 8],
    ['v5.5', '720p', 10],
    ['v5.6', '360p', 10],
    ['v6', '1080p', 1],
    ['v6', '540p', 15],
    ['c1', '720p', 7],
  ])('%s at %s accepts %i s', (model, resolution, duration) => {
    expect(t2v(model, { resolution, duration })).toEqual([]);
  });

  it('defaults the duration to 5 and the quality to 540p when checking', () => {
    expect(t2v('v5', { duration: 10 })[0]?.message).toBe(
      'pixverse v5 at 540p allows durations 5, 8 (got 10)',
    );
    expect(t2v('v3.5', { resolution: '1080p' })).toEqual([]);
  });

  it('refuses unknown qualities and aspect ratios', () => {
    expect(t2v('v5', { resolution: '480p' })).toEqual([
      { path: 'resolution', message: 'pixverse resolution must be one of 360p, 540p, 720p, 1080p' },
    ]);
    expect(t2v('v5', { aspect_ratio: '2:1' })).toEqual([
      {
        path: 'aspect_ratio',
        message: 'pixverse aspect_ratio must be one of 16:9, 4:3, 1:1, 3:4, 9:16',
      },
    ]);
    for (const ratio of ['16:9', '4:3', '1:1', '3:4', '9:16']) {
      expect(t2v('v5', { aspect_ratio: ratio })).toEqual([]);
    }
  });

  it('image-to-video takes the aspect ratio from the image and needs a prompt', () => {
    expect(paths(i2v('v5', { aspect_ratio: '16:9' }))).toEqual(['aspect_ratio']);
    expect(validateInput('image-to-video', 'v5', { image: 'https://example.com/cat.png' })).toEqual(
      [{ path: 'prompt', message: 'pixverse image-to-video requires a prompt' }],
    );
  });

  it('limits prompt and negative_prompt to 2048 characters and seed to 2147483647', () => {
    expect(t2v('v5', { prompt: 'x'.repeat(2048), negative_prompt: 'y'.repeat(2048) })).toEqual([]);
    expect(
      t2v('v5', { prompt: 'x'.repeat(2049), negative_prompt: 'y'.repeat(2049), seed: 2 ** 31 }),
    ).toEqual([
      { path: 'prompt', message: 'pixverse prompt allows at most 2048 characters' },
      {
        path: 'negative_prompt',
        message: 'pixverse negative_prompt allows at most 2048 characters',
      },
      { path: 'seed', message: 'pixverse seed must be between 0 and 2147483647' },
    ]);
    expect(t2v('v5', { seed: 2_147_483_647 })).toEqual([]);
  });

  it('rejects normalized fields PixVerse has no equivalent for', () => {
    expect(paths(t2v('v5', { width: 512, height: 512, steps: 20, guidance_scale: 7 }))).toEqual([
      'width',
      'height',
      'steps',
      'guidance_scale',
    ]);
  });

  it('lists every broken rule at once', () => {
    const errors = t2v('v5', {
      resolution: '1080p',
      duration: 10,
      aspect_ratio: '2:1',
      provider_options: { style: 'anime', motion_mode: 'fast' },
    });
    expect(paths(errors)).toEqual([
      'duration',
      'aspect_ratio',
      'provider_options.style',
      'provider_options.motion_mode',
    ]);
  });

  it('supports only text-to-video and image-to-video, and only its models', () => {
    expect(paths(validateInput('text-to-image', 'v5', { prompt: 'x' }))).toEqual(['model']);
    expect(paths(t2v('v9', {}))).toEqual(['model']);
  });

  describe('data: images', () => {
    it('accepts a real PNG under 20 MB', () => {
      expect(i2v('v5', { image: pngDataUrl() })).toEqual([]);
    });

    it('refuses other types and bytes that are not the declared type', () => {
      const gif = i2v('v5', { image: 'data:image/gif;base64,R0lGODlhAQABAAAAACw=' });
      expect(gif).toHaveLength(1);
      expect(gif[0]).toMatchObject({
        path: 'image',
        message: expect.stringContaining('image/gif'),
      });
      const fake = i2v('v5', {
        image: `data:image/png;base64,${Buffer.from('hello').toString('base64')}`,
      });
      expect(fake).toEqual([{ path: 'image', message: 'the bytes are not a image/png file' }]);
    });

    it('refuses 20 MB and more', () => {
      const big = Buffer.alloc(20 * 1024 * 1024);
      makePng().copy(big);
      const errors = i2v('v5', { image: `data:image/png;base64,${big.toString('base64')}` });
      expect(errors).toEqual([{ path: 'image', message: expect.stringContaining('larger than') }]);
    });
  });

  describe('provider_options', () => {
    it('passes the allowlist with the right types', () => {
      expect(
        t2v('v4', {
          provider_options: {
            camera_movement: 'zoom_in',
            motion_mode: 'fast',
            template_id: 302325299692608,
            sound_effect_switch: true,
            sound_effect_content: 'waves',
            lip_sync_switch: true,
            lip_sync_tts_content: 'hello',
            lip_sync_tts_speaker_id: 'speaker-1',
            water_mark: false,
          },
        }),
      ).toEqual([]);
      expect(
        t2v('v5.5', {
          provider_options: {
            generate_audio_switch: true,
            generate_multi_clip_switch: true,
            thinking_type: 'auto',
          },
        }),
      ).toEqual([]);
      expect(t2v('v3.5', { provider_options: { style: 'anime' } })).toEqual([]);
    });

    it('refuses unknown options and wrong types or values, once each', () => {
      const errors = t2v('v4', {
        provider_options: {
          webhook_id: '1234',
          camera_movement: 'barrel_roll',
          motion_mode: 'slow',
          template_id: 'abc',
          sound_effect_switch: 'yes',
        },
      });
      expect(paths(errors)).toEqual([
        'provider_options.webhook_id',
        'provider_options.camera_movement',
        'provider_options.motion_mode',
        'provider_options.template_id',
        'provider_options.sound_effect_switch',
      ]);
    });

    it('style only on v3.5', () => {
      expect(t2v('v5', { provider_options: { style: 'anime' } })).toEqual([
        {
          path: 'provider_options.style',
          message: 'pixverse style is only available on v3.5 (not v5)',
        },
      ]);
    });

    it('camera_movement only on v4 and v4.5', () => {
      expect(t2v('v4.5', { provider_options: { camera_movement: 'pan_left' } })).toEqual([]);
      expect(t2v('v3.5', { provider_options: { camera_movement: 'pan_left' } })).toEqual([
        {
          path: 'provider_options.camera_movement',
          message: 'pixverse camera_movement is only available on v4, v4.5 (not v3.5)',
        },
      ]);
    });

    it('fast motion: only v3.5-v4.5, only 5 s, not at 1080p', () => {
      const fast = { motion_mode: 'fast' };
      expect(t2v('v4', { provider_options: fast, duration: 5, resolution: '720p' })).toEqual([]);
      expect(t2v('v4', { provider_options: fast, duration: 8 })).toEqual([
        {
          path: 'provider_options.motion_mode',
          message: 'pixverse motion_mode fast allows only duration 5 (got 8)',
        },
      ]);
      expect(t2v('v3.5', { provider_options: fast, resolution: '1080p' })).toEqual([
        {
          path: 'provider_options.motion_mode',
          message: 'pixverse motion_mode fast is not available at 1080p',
        },
      ]);
      expect(t2v('v5', { provider_options: fast })).toEqual([
        {
          path: 'provider_options.motion_mode',
          message: 'pixverse motion_mode fast is only available on v3.5, v4, v4.5 (not v5)',
        },
      ]);
      expect(t2v('v6', { provider_options: { motion_mode: 'normal' } })).toEqual([]);
    });

    it('sound effects and lip sync only on v5 and earlier, or with a template', () => {
      expect(t2v('v5', { provider_options: { sound_effect_switch: true } })).toEqual([]);
      expect(
        t2v('v5.5', { provider_options: { sound_effect_switch: true, lip_sync_switch: true } }),
      ).toEqual([
        {
          path: 'provider_options.sound_effect_switch',
          message:
            'pixverse sound effects and lip sync are only available on v3.5, v4, v4.5, v5 or with a template_id (not v5.5)',
        },
        {
          path: 'provider_options.lip_sync_switch',
          message:
            'pixverse sound effects and lip sync are only available on v3.5, v4, v4.5, v5 or with a template_id (not v5.5)',
        },
      ]);
      expect(
        t2v('v6', {
          provider_options: { sound_effect_switch: true, template_id: 302325299692608 },
        }),
      ).toEqual([]);
      expect(
        paths(t2v('v5', { provider_options: { lip_sync_tts_content: 'x'.repeat(141) } })),
      ).toEqual(['provider_options.lip_sync_tts_content']);
    });

    it('generate_audio_switch only on v5.5 and later; multi clip and thinking per seed 004', () => {
      expect(t2v('v5', { provider_options: { generate_audio_switch: true } })).toEqual([
        {
          path: 'provider_options.generate_audio_switch',
          message:
            'pixverse generate_audio_switch is only available on v5.5, v5.6, v6, c1 (not v5)',
        },
      ]);
      expect(t2v('c1', { provider_options: { generate_audio_switch: false } })).toEqual([]);
      expect(
        paths(t2v('v5.6', { provider_options: { generate_multi_clip_switch: true } })),
      ).toEqual(['provider_options.generate_multi_clip_switch']);
      expect(paths(t2v('c1', { provider_options: { thinking_type: 'enabled' } }))).toEqual([
        'provider_options.thinking_type',
      ]);
      expect(t2v('v6', { provider_options: { thinking_type: 'enabled' } })).toEqual([]);
    });
  });
});

describe('pixverse catalogue', () => {
  it('serves every model for both operations, v5 by default, and publishes the rules', () => {
    expect(PIXVERSE_MODELS.map((m) => m.name)).toEqual([...PIXVERSE_MODEL_NAMES]);
    expect(PIXVERSE_MODELS.filter((m) => m.isDefault).map((m) => m.name)).toEqual(['v5']);
    for (const m of PIXVERSE_MODELS) {
      expect(m.operations).toEqual(['text-to-video', 'image-to-video']);
      expect(m.limits).toMatchObject({
        resolutions: [...QUALITIES],
        aspect_ratios: ['16:9', '4:3', '1:1', '3:4', '9:16'],
        durations: PIXVERSE_RULES[m.name as keyof typeof PIXVERSE_RULES].durations,
        defaults: { duration: 5, resolution: '540p', aspect_ratio: '16:9' },
      });
    }
    const v35 = PIXVERSE_MODELS.find((m) => m.name === 'v3.5')!;
    expect(v35.limits).toMatchObject({
      durations: { '1080p': [5], '720p': [5, 8] },
      motion_modes: ['normal', 'fast'],
    });
    expect(v35.limits['provider_options']).toContain('style');
    const v6 = PIXVERSE_MODELS.find((m) => m.name === 'v6')!;
    expect(v6.limits['provider_options']).not.toContain('style');
    expect(v6.limits['provider_options']).toContain('generate_audio_switch');
  });

  it('formats durations as lists or ranges', () => {
    expect(formatDurations([5, 8])).toBe('5, 8');
    expect(formatDurations([5, 8, 10])).toBe('5, 8, 10');
    expect(formatDurations(Array.from({ length: 15 }, (_, i) => i + 1))).toBe('1-15');
  });
});

describe('pixverse generate body', () => {
  it('text-to-video: defaults, aspect ratio, seed, negative prompt, options', () => {
    expect(
      toGenerateBody('text-to-video', 'v5', {
        prompt: 'waves',
        negative_prompt: 'blur',
        seed: 7,
        provider_options: { water_mark: false, motion_mode: 'normal' },
      }),
    ).toEqual({
      water_mark: false,
      model: 'v5',
      prompt: 'waves',
      duration: 5,
      quality: '540p',
      aspect_ratio: '16:9',
      negative_prompt: 'blur',
      seed: 7,
    });
  });

  it('image-to-video: img_id, no aspect ratio; motion_mode only where the model has it', () => {
    expect(
      toGenerateBody(
        'image-to-video',
        'v4',
        {
          prompt: 'turns',
          image: 'https://example.com/a.png',
          duration: 5,
          resolution: '720p',
          provider_options: { motion_mode: 'fast', camera_movement: 'zoom_in' },
        },
        4567891,
      ),
    ).toEqual({
      camera_movement: 'zoom_in',
      model: 'v4',
      prompt: 'turns',
      duration: 5,
      quality: '720p',
      img_id: 4567891,
      motion_mode: 'fast',
    });
  });
});

describe('pixverse image upload source', () => {
  it('an https URL goes as image_url, a data: URL as a file', () => {
    expect(imageSourceOf('https://example.com/cat.png')).toEqual({
      kind: 'url',
      url: 'https://example.com/cat.png',
    });
    const png = makePng(16, 16, 3);
    expect(imageSourceOf(pngDataUrl())).toEqual({
      kind: 'file',
      bytes: png,
      contentType: 'image/png',
      filename: 'image.png',
    });
  });
});

describe('pixverse result status mapping', () => {
  const result = (status: number, url = '') => ({ id: '312345678901', status, url });

  it('1 → succeeded with the MP4 URL', () => {
    expect(resultToSnapshot(result(1, 'https://media.pixverse.ai/a.mp4'), '312345678901')).toEqual({
      upstreamId: '312345678901',
      upstreamStatus: '1',
      status: 'succeeded',
      progress: 1,
      outputs: [
        { url: 'https://media.pixverse.ai/a.mp4', contentType: 'video/mp4', expiresAt: null },
      ],
    });
  });

  it.each([2, 3, 5])('%i → running', (status) => {
    expect(resultToSnapshot(result(status), '312345678901')).toEqual({
      upstreamId: '312345678901',
      upstreamStatus: String(status),
      status: 'running',
    });
  });

  it.each([
    [6, 'upstream_rejected', /deleted/],
    [7, 'moderation_failed', /moderation/],
    [8, 'upstream_rejected', /failed to generate/],
    [4, 'upstream_bad_response', /unknown video status 4/],
  ])('%i → failed with %s', (status, code, message) => {
    const s = resultToSnapshot(result(status), '312345678901');
    expect(s).toMatchObject({ status: 'failed', upstreamStatus: String(status), error: { code } });
    expect(s.error?.message).toMatch(message);
  });

  it('1 without a URL is a bad response, and a missing id keeps ours', () => {
    expect(resultToSnapshot({ status: 1 }, '42')).toMatchObject({
      upstreamId: '42',
      status: 'failed',
      error: { code: 'upstream_bad_response' },
    });
  });
});

describe('pixverse output URLs', () => {
  it('trusts PixVerse hosts over https and the configured origin only', () => {
    const base = 'https://app-api.pixverse.ai/openapi/v2';
    expect(isPixverseOutputUrl('https://media.pixverse.ai/x.mp4', base)).toBe(true);
    expect(isPixverseOutputUrl('https://media.pixverseai.cn/x.mp4', base)).toBe(true);
    expect(isPixverseOutputUrl('http://media.pixverse.ai/x.mp4', base)).toBe(false);
    expect(isPixverseOutputUrl('https://evil.example/pixverse.ai/x.mp4', base)).toBe(false);
    expect(isPixverseOutputUrl('https://pixverse.ai.evil.example/x.mp4', base)).toBe(false);
    expect(
      isPixverseOutputUrl('http://127.0.0.1:9/media/x.mp4', 'http://127.0.0.1:9/openapi/v2'),
    ).toBe(true);
    expect(isPixverseOutputUrl('not a url', base)).toBe(false);
  });
});

describe('pixverse usage on the snapshot', () => {
  it('a moderation failure (7) says its credits are refunded; other failures do not', () => {
    const result = (status: number) => ({ id: '312345678901', status, url: '' });
    expect(resultToSnapshot(result(7), '1').usage).toEqual({ refunded: true });
    expect(resultToSnapshot(result(8), '1').usage).toBeUndefined();
    expect(resultToSnapshot(result(6), '1').usage).toBeUndefined();
  });
});
