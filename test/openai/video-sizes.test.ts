import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedCall } from '../../src/emulators/shared/types.js';
import { startHaiperEmulator, type HaiperEmulator } from '../../src/emulators/haiper/server.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import {
  startPixverseEmulator,
  type PixverseEmulator,
} from '../../src/emulators/pixverse/server.js';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
} from '../../src/emulators/replicate/server.js';
import { GENERATE_DURATIONS } from '../../src/providers/haiper/models.js';
import { PIXVERSE_RULES } from '../../src/providers/pixverse/models.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { KEY_A, buildTestApp, findSecrets, type TestApp } from '../helpers/test-app.js';
import { apiErrorOf, retrieveUntilDone, type Json } from './harness.js';

/**
 * Code written for the official OpenAI SDK passes every `size` and `seconds` it offers: each
 * works on every video model (Haiper, PixVerse, ModelsLab, Replicate), mapped to the closest
 * the model supports, and the video object says what was asked of the provider.
 */

const SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024'] as const;
const SECONDS = ['4', '8', '12'] as const;
/** Each SDK size as the nearest standard frame (ratio at 720p or 1080p). */
const STANDARD_FRAME: Record<string, string> = {
  '720x1280': '720x1280',
  '1280x720': '1280x720',
  '1024x1792': '1080x1920',
  '1792x1024': '1920x1080',
};
const ratioOf = (size: string) =>
  size.startsWith('7') || size.startsWith('1024') ? '9:16' : '16:9';

const HAIPER_KEY = 'haiper-sizes-access-key-0123456789';
const PIXVERSE_KEY = 'pixverse-sizes-api-key-0123456789';
const ML_KEY = 'modelslab-sizes-api-key-0123456789';
const R8_TOKEN = 'r8_sizes_upstream_token_0123456789';
const ANIMATE_DIFF =
  'lucataco/animate-diff:beecf59c4aee8d81bf04f0381033dfa10dc16e845b4ae00d281e2fa377e48a9f';

let haiper: HaiperEmulator;
let pixverse: PixverseEmulator;
let modelslab: ModelslabEmulator;
let replicate: ReplicateEmulator;
let store: MemoryTaskStore;
let t: TestApp;
let base: string;
const client = () => new OpenAI({ apiKey: KEY_A, baseURL: base, maxRetries: 0 });

beforeAll(async () => {
  haiper = await startHaiperEmulator({ accessKeys: [HAIPER_KEY] });
  pixverse = await startPixverseEmulator({ apiKeys: [PIXVERSE_KEY], pollsUntilDone: 1 });
  modelslab = await startModelslabEmulator({ apiKeys: [ML_KEY] });
  replicate = await startReplicateEmulator({ tokens: [R8_TOKEN], timeScale: 0.01 });
  store = new MemoryTaskStore();
  t = await buildTestApp({
    store,
    providers: {
      haiper: {
        baseUrl: haiper.basePath,
        endpointPath: haiper.endpointPath,
        credentials: [{ id: 'haiper-1', secret: HAIPER_KEY }],
        emulated: false,
      },
      pixverse: {
        baseUrl: pixverse.baseUrl,
        credentials: [{ id: 'pixverse-1', secret: PIXVERSE_KEY }],
        emulated: false,
      },
      modelslab: {
        baseUrl: modelslab.url,
        credentials: [{ id: 'modelslab-1', secret: ML_KEY }],
        emulated: false,
        loadBalancer: true,
        videoPath: '/api/v1/enterprise/video/text2video',
      },
      replicate: {
        baseUrl: replicate.baseUrl,
        credentials: [{ id: 'replicate-1', secret: R8_TOKEN }],
        emulated: true,
        models: [],
      },
    },
  });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/openai/v1`;
});
afterAll(async () => {
  expect(findSecrets(t.logs, [HAIPER_KEY, PIXVERSE_KEY, ML_KEY, R8_TOKEN])).toEqual([]);
  await t.close();
  await Promise.all([haiper.close(), pixverse.close(), modelslab.close(), replicate.close()]);
});

const lastBody = (calls: RecordedCall[], path: RegExp) =>
  calls.filter((c) => c.method === 'POST' && path.test(c.path)).at(-1)?.body as Json;

async function createAndFinish(params: OpenAI.Videos.VideoCreateParams) {
  const video = await client().videos.create(params);
  const done = await retrieveUntilDone(client(), video.id);
  expect(done.status, JSON.stringify(done.error)).toBe('completed');
  return { video, done };
}

describe('every SDK size on Haiper and PixVerse', () => {
  it.each(SIZES)('haiper, %s: completes; Haiper got the matching aspect ratio', async (size) => {
    const { video, done } = await createAndFinish({
      model: 'haiper',
      prompt: 'a kite',
      size,
      seconds: '4',
    });
    const body = lastBody(haiper.calls, /\/video\/generate$/);
    expect(body.settings).toEqual({ aspectRatio: ratioOf(size), duration: 4 });
    // Haiper takes no resolution: the ratio at the caller's nearest standard one is reported.
    const reported = STANDARD_FRAME[size];
    expect(video).toMatchObject({ size: reported, seconds: '4', prompt: 'a kite' });
    expect(done).toMatchObject({ size: reported, seconds: '4', prompt: 'a kite' });
  });

  it.each(SIZES)(
    'pixverse/v5, %s: completes; PixVerse got the ratio, quality and a duration it allows',
    async (size) => {
      const { video } = await createAndFinish({
        model: 'pixverse/v5',
        prompt: 'a kite',
        size,
        seconds: '8',
      });
      const body = lastBody(pixverse.calls, /\/video\/text\/generate$/);
      const quality = size === '1280x720' || size === '720x1280' ? '720p' : '1080p';
      expect(body).toMatchObject({ aspect_ratio: ratioOf(size), quality, duration: 8 });
      expect(PIXVERSE_RULES.v5.durations[quality]).toContain(body.duration);
      expect(video.size).toBe(
        quality === '720p' ? size : ratioOf(size) === '16:9' ? '1920x1080' : '1080x1920',
      );
    },
  );
});

describe('every SDK length on Haiper and PixVerse', () => {
  it.each(SECONDS)(
    '%s s: the nearest duration each model allows, reported as such',
    async (seconds) => {
      const h = await createAndFinish({ model: 'haiper', prompt: 'rain', seconds });
      const haiperDuration = (lastBody(haiper.calls, /\/video\/generate$/).settings as Json)
        .duration;
      expect(GENERATE_DURATIONS as readonly unknown[]).toContain(haiperDuration);
      expect(haiperDuration).toBe({ '4': 4, '8': 8, '12': 8 }[seconds]);
      expect(h.done.seconds).toBe(String(haiperDuration));

      const p = await createAndFinish({
        model: 'pixverse/v5',
        prompt: 'rain',
        seconds,
        size: '1280x720',
      });
      const pixverseDuration = lastBody(pixverse.calls, /\/video\/text\/generate$/).duration;
      expect(pixverseDuration).toBe({ '4': 5, '8': 8, '12': 8 }[seconds]);
      expect(p.done.seconds).toBe(String(pixverseDuration));

      // A model with any length from 1 to 15 gets the length itself.
      const v6 = await createAndFinish({
        model: 'pixverse/v6',
        prompt: 'rain',
        seconds,
        size: '720x1280',
      });
      expect(lastBody(pixverse.calls, /\/video\/text\/generate$/).duration).toBe(Number(seconds));
      expect(v6.done.seconds).toBe(seconds);
    },
  );
});

describe('ModelsLab and Replicate video models', () => {
  it.each(SIZES)('modelslab/cogvideox, %s: the size within 512x512, no length', async (size) => {
    const { done } = await createAndFinish({
      model: 'modelslab/cogvideox',
      prompt: 'dunes',
      size,
      seconds: '12',
    });
    const body = lastBody(modelslab.calls, /\/text2video$/);
    const [w, h] = size.split('x').map(Number) as [number, number];
    expect(Math.max(Number(body.width), Number(body.height))).toBe(512);
    expect(Math.sign(Number(body.width) - Number(body.height))).toBe(Math.sign(w - h));
    expect(done).toMatchObject({
      size: `${String(body.width)}x${String(body.height)}`,
      seconds: null,
    });
  });

  it.each(SIZES)(
    'replicate, %s: minimax/video-01 (fixed 6 s of 720p) and an open model',
    async (size) => {
      const minimax = await createAndFinish({
        model: 'replicate/minimax/video-01',
        prompt: 'surf',
        size,
        seconds: '12',
      });
      const sent = lastBody(replicate.calls, /\/models\/minimax\/video-01\/predictions$/);
      expect(sent.input).toEqual({ prompt: 'surf' });
      expect(minimax.done).toMatchObject({ size: '1280x720', seconds: '6' });

      const open = await createAndFinish({
        model: `replicate/${ANIMATE_DIFF}`,
        prompt: 'surf',
        size,
        seconds: '12',
      });
      const input = lastBody(replicate.calls, /\/v1\/predictions$/).input as Json;
      expect(input).toMatchObject({ aspect_ratio: ratioOf(size), duration: 12 });
      expect(open.done.seconds).toBe('12');
    },
  );
});

describe('GET /videos/{id}/content?variant=thumbnail', () => {
  it('a video without a poster: 404 thumbnail_not_available in the OpenAI envelope', async () => {
    const { video } = await createAndFinish({
      model: 'haiper',
      prompt: 'a kite',
      size: '1280x720',
    });
    const res = await fetch(`${base}/videos/${video.id}/content?variant=thumbnail`, {
      headers: { authorization: `Bearer ${KEY_A}` },
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        message: expect.stringContaining('no thumbnail') as unknown,
        type: 'not_found_error',
        param: null,
        code: 'thumbnail_not_available',
      },
    });
    const err = await apiErrorOf(
      client().videos.downloadContent(video.id, { variant: 'thumbnail' }),
    );
    expect(err.status).toBe(404);
  });
  // A stored poster is served by a redirect: test/media/file-storage.test.ts.
});
