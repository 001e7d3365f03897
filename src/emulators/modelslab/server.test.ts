import { afterEach, describe, expect, it } from 'vitest';
import { PNG_SIGNATURE } from '../shared/png.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
  type ModelslabEmulatorOptions,
} from './server.js';

const KEY = 'ml-emulator-key';
const API = '/api/v1/enterprise';

type Json = Record<string, unknown>;

let emulator: ModelslabEmulator | undefined;

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(opts: ModelslabEmulatorOptions = {}): Promise<ModelslabEmulator> {
  emulator = await startModelslabEmulator(opts);
  return emulator;
}

/** POST JSON to a path on the emulator, or to an absolute URL it handed out. */
async function post(target: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(target.startsWith('http') ? target : `${emulator!.url}${target}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

async function download(url: string): Promise<{ status: number; type: string; body: Buffer }> {
  const res = await fetch(url);
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: Buffer.from(await res.arrayBuffer()),
  };
}

const imageBody = (extra: Json = {}): Json => ({
  key: KEY,
  model_id: 'midjourney',
  prompt: 'a red fox in snow',
  width: 512,
  height: 512,
  samples: 1,
  ...extra,
});

// ftyp box at offset 4 marks an MP4 file.
const isMp4 = (body: Buffer) => body.subarray(4, 8).toString('ascii') === 'ftyp';

describe('ModelsLab emulator: immediate success', () => {
  it('text2img returns `samples` downloadable PNGs and the seed-style meta', async () => {
    const ml = await start();
    const { status, json } = await post(`${API}/text2img`, imageBody({ samples: 3, seed: 42 }));
    expect(status).toBe(200);
    expect(json).toMatchObject({
      status: 'success',
      generationTime: expect.any(Number),
      id: expect.any(Number),
      meta: {
        prompt: 'a red fox in snow',
        model_id: 'midjourney',
        W: 512,
        H: 512,
        seed: 42,
        steps: expect.any(Number),
        n_samples: 3,
        file_prefix: expect.any(String),
      },
    });
    const output = json.output as string[];
    expect(output).toHaveLength(3);
    for (const url of output) {
      expect(url.startsWith(`${ml.url}/media/`)).toBe(true);
      const file = await download(url);
      expect(file.status).toBe(200);
      expect(file.type).toBe('image/png');
      expect(file.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    }
    expect(ml.creates).toBe(1);
  });

  it.each([`${API}/text2video`, `${API}/video/text2video`])(
    '%s returns one downloadable MP4',
    async (path) => {
      const ml = await start();
      const { json } = await post(path, { key: KEY, prompt: 'waves', width: 512, height: 512 });
      expect(json.status).toBe('success');
      const output = json.output as string[];
      expect(output).toHaveLength(1);
      const file = await download(output[0]!);
      expect(file.type).toBe('video/mp4');
      expect(isMp4(file.body)).toBe(true);
      expect(ml.creates).toBe(1);
    },
  );

  it('accepts the seed body as sent: string-typed numbers, nulls, loadbalancer', async () => {
    const ml = await start();
    const { json } = await post(`${API}/text2img`, {
      key: KEY,
      model_id: 'model_id',
      prompt: 'portrait',
      negative_prompt: 'blurry',
      width: '512',
      height: '768',
      samples: '2',
      num_inference_steps: '20',
      safety_checker: 'no',
      enhance_prompt: 'yes',
      seed: null,
      guidance_scale: '7.5',
      scheduler: 'UniPCMultistepScheduler',
      loadbalancer: 'yes',
      webhook: null,
      track_id: null,
    });
    expect(json).toMatchObject({
      status: 'success',
      meta: { W: 512, H: 768, n_samples: 2, steps: 20, guidance_scale: 7.5 },
    });
    expect(json.output).toHaveLength(2);
    expect(ml.pendingWebhooks()).toEqual([]);
  });

  it('ignores the Authorization header and records keys and calls', async () => {
    const ml = await start({ apiKeys: ['k1', 'k2'] });
    const res = await fetch(`${ml.url}${API}/text2img`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k1' },
      body: JSON.stringify({ prompt: 'x' }),
    });
    expect(await res.json()).toEqual({ status: 'error', message: 'Invalid API key' });
    await post(`${API}/text2img`, imageBody({ key: 'k2' }));
    expect(ml.keysUsed()).toEqual(['', 'k2']);
    expect(ml.calls.map((c) => c.path)).toEqual([`${API}/text2img`, `${API}/text2img`]);
    expect(ml.calls[0]!.headers.authorization).toBe('Bearer k1');
    expect(ml.creates).toBe(1);
  });
});

describe('ModelsLab emulator: processing and fetch', () => {
  it('answers processing, then success via the fetch_result URL; future_links 404 until done', async () => {
    const ml = await start();
    ml.scriptNext({ processing: 2, eta: 12 });
    const { json: created } = await post(`${API}/text2img`, imageBody({ samples: 2 }));
    expect(created).toMatchObject({
      status: 'processing',
      tip: expect.any(String),
      eta: 12,
      message: expect.any(String),
      id: expect.any(Number),
      output: [],
      meta: { prompt: 'a red fox in snow' },
    });
    expect(created.fetch_result).toBe(`${ml.url}${API}/fetch/${created.id as number}`);
    const futureLinks = created.future_links as string[];
    expect(futureLinks).toHaveLength(2);
    expect((await download(futureLinks[0]!)).status).toBe(404);

    for (let i = 0; i < 2; i++) {
      const { json } = await post(created.fetch_result as string, { key: KEY });
      expect(json).toMatchObject({ status: 'processing', message: 'Request processing' });
    }
    expect((await download(futureLinks[0]!)).status).toBe(404);

    const { json: done } = await post(created.fetch_result as string, { key: KEY });
    expect(done).toMatchObject({ status: 'success', id: created.id, output: futureLinks });
    for (const link of futureLinks) {
      const file = await download(link);
      expect(file.status).toBe(200);
      expect(file.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    }
    // A finished job keeps answering success.
    expect((await post(created.fetch_result as string, { key: KEY })).json.status).toBe('success');
    expect(ml.creates).toBe(1);
  });

  it('fetches through /enterprise/fetch with request_id (number or string)', async () => {
    const ml = await start();
    ml.scriptNext({ processing: 1 });
    const { json: created } = await post(`${API}/text2img`, imageBody());
    const first = await post(`${API}/fetch`, { key: KEY, request_id: created.id });
    expect(first.json.status).toBe('processing');
    const second = await post(`${API}/fetch`, { key: KEY, request_id: String(created.id) });
    expect(second.json).toMatchObject({ status: 'success', output: created.future_links });
  });

  it.each([`${API}/fetch/`, `${API}/images/fetch/`])(
    'fetches an image through %s{id}',
    async (prefix) => {
      const ml = await start();
      ml.scriptNext({ processing: 0 });
      const { json: created } = await post(`${API}/text2img`, imageBody());
      const { json } = await post(`${prefix}${created.id as number}`, { key: KEY });
      expect(json).toMatchObject({ status: 'success', output: created.future_links });
    },
  );

  it('points video fetch_result at /video/fetch/{id} and publishes an MP4', async () => {
    const ml = await start();
    ml.scriptNext({ processing: 1 });
    const { json: created } = await post(`${API}/video/text2video`, {
      key: KEY,
      prompt: 'a cat',
      num_frames: '25',
    });
    expect(created.status).toBe('processing');
    expect(created.fetch_result).toBe(`${ml.url}${API}/video/fetch/${created.id as number}`);
    await post(created.fetch_result as string, { key: KEY });
    const { json } = await post(created.fetch_result as string, { key: KEY });
    expect(json.status).toBe('success');
    const file = await download((json.output as string[])[0]!);
    expect(isMp4(file.body)).toBe(true);
  });

  it('ends a failed job with status failed and its message', async () => {
    const ml = await start();
    ml.scriptNext({ fail: 'Processing failed: Invalid input dimensions', afterFetches: 1 });
    const { json: created } = await post(`${API}/text2img`, imageBody());
    expect(created.status).toBe('processing');
    expect((await post(created.fetch_result as string, { key: KEY })).json.status).toBe(
      'processing',
    );
    const { json } = await post(created.fetch_result as string, { key: KEY });
    expect(json).toEqual({
      status: 'failed',
      id: created.id,
      message: 'Processing failed: Invalid input dimensions',
    });
    expect((await download((created.future_links as string[])[0]!)).status).toBe(404);
  });

  it('answers Request not found for an unknown id', async () => {
    await start();
    const { json } = await post(`${API}/fetch/999`, { key: KEY });
    expect(json).toMatchObject({
      status: 'failed',
      id: '',
      message: 'Request not found',
      output: '',
      tip: expect.any(String),
    });
  });

  it('hides a job from a key other than the one that created it', async () => {
    const ml = await start({ apiKeys: ['owner', 'other'] });
    ml.scriptNext({ processing: 0 });
    const { json: created } = await post(`${API}/text2img`, imageBody({ key: 'owner' }));
    const stranger = await post(created.fetch_result as string, { key: 'other' });
    expect(stranger.json).toMatchObject({ status: 'failed', message: 'Request not found' });
    const owner = await post(created.fetch_result as string, { key: 'owner' });
    expect(owner.json.status).toBe('success');
    expect(ml.keysUsed()).toEqual(['owner', 'other', 'owner']);
  });

  it('spells messege in legacy mode', async () => {
    const ml = await start({ legacySpelling: true });
    ml.scriptNext({ processing: 1 });
    const { json: created } = await post(`${API}/text2img`, imageBody());
    expect(created.messege).toEqual(expect.any(String));
    expect(created).not.toHaveProperty('message');
    const { json } = await post(created.fetch_result as string, { key: KEY });
    expect(json).toMatchObject({ status: 'processing', messege: 'Request processing' });
  });

  it('emits string ids when asked and fetches by them', async () => {
    const ml = await start({ stringIds: true });
    const { json: immediate } = await post(`${API}/text2img`, imageBody());
    expect(immediate.id).toEqual(expect.any(String));
    ml.scriptNext({ processing: 0 });
    const { json: created } = await post(`${API}/text2img`, imageBody());
    expect(created.id).toEqual(expect.any(String));
    const { json } = await post(`${API}/fetch`, { key: KEY, request_id: created.id });
    expect(json).toMatchObject({ status: 'success', id: created.id });
  });

  it('keeps the webhooks it would send, success and failed shapes with track_id', async () => {
    const ml = await start();
    const hook = { webhook: 'http://client.test/hook', track_id: 'video_001' };
    await post(`${API}/text2img`, imageBody(hook));
    ml.scriptNext({ fail: 'Processing failed: Invalid input dimensions' });
    const { json: failing } = await post(`${API}/video/text2video`, {
      key: KEY,
      prompt: 'x',
      ...hook,
    });
    expect(ml.pendingWebhooks()).toHaveLength(1); // the failing job has not ended yet
    await post(failing.fetch_result as string, { key: KEY });
    const [success, failed] = ml.pendingWebhooks();
    expect(success).toMatchObject({
      url: 'http://client.test/hook',
      body: { status: 'success', output: expect.any(Array), track_id: 'video_001', meta: {} },
    });
    expect(failed).toEqual({
      url: 'http://client.test/hook',
      body: {
        status: 'failed',
        id: failing.id,
        message: 'Processing failed: Invalid input dimensions',
        track_id: 'video_001',
      },
    });
  });
});

describe('ModelsLab emulator: errors', () => {
  it.each([
    ['always-200', 200],
    ['real', 401],
  ] as const)('rejects a bad key (%s → HTTP %i)', async (mode, code) => {
    const ml = await start({ errorHttpStatus: mode });
    for (const path of [`${API}/text2img`, `${API}/fetch/1`, `${API}/system_details`]) {
      const { status, json } = await post(path, imageBody({ key: 'wrong' }));
      expect(status).toBe(code);
      expect(json).toEqual({ status: 'error', message: 'Invalid API key' });
    }
    expect(ml.creates).toBe(0);
  });

  it.each([
    ['always-200', 200],
    ['real', 429],
  ] as const)('refuses more than queueLimit processing jobs per key (%s)', async (mode, code) => {
    const ml = await start({ errorHttpStatus: mode, queueLimit: 2, apiKeys: ['a', 'b'] });
    for (let i = 0; i < 4; i++) ml.scriptNext({ processing: 0 });
    await post(`${API}/text2img`, imageBody({ key: 'a' }));
    const { json: second } = await post(`${API}/text2img`, imageBody({ key: 'a' }));
    const refused = await post(`${API}/text2img`, imageBody({ key: 'a' }));
    expect(refused.status).toBe(code);
    expect(refused.json).toEqual({
      status: 'error',
      message: 'Rate limit exceeded. Maximum 2 queued requests allowed.',
      retry_after: 30,
    });
    // The limit is per key, and a finished job frees its slot.
    expect((await post(`${API}/text2img`, imageBody({ key: 'b' }))).json.status).toBe('processing');
    await post(second.fetch_result as string, { key: 'a' });
    expect((await post(`${API}/text2img`, imageBody({ key: 'a' }))).json.status).toBe('success');
    expect(ml.creates).toBe(4);
  });

  it('forces the queue-full error when scripted', async () => {
    const ml = await start();
    ml.scriptNext('queue-full');
    const { json } = await post(`${API}/text2img`, imageBody());
    expect(json).toMatchObject({ status: 'error', retry_after: 30 });
    expect((await post(`${API}/text2img`, imageBody())).json.status).toBe('success');
    expect(ml.creates).toBe(1);
  });

  it.each([
    ['always-200', 200],
    ['real', 402],
  ] as const)('answers no-credits (%s)', async (mode, code) => {
    const ml = await start({ errorHttpStatus: mode });
    ml.scriptNext('no-credits');
    const { status, json } = await post(`${API}/text2img`, imageBody());
    expect(status).toBe(code);
    expect(json).toEqual({
      status: 'error',
      message: 'Insufficient credits. Please top up your account.',
    });
    expect(ml.creates).toBe(0);
  });

  it('answers a scripted HTTP 500 and 503 with their real codes', async () => {
    const ml = await start();
    ml.scriptNext({ http: 500 });
    ml.scriptNext({ http: 503 });
    const first = await post(`${API}/text2img`, imageBody());
    expect(first).toEqual({
      status: 500,
      json: { status: 'error', message: 'Internal Server Error' },
    });
    const second = await post(`${API}/video/text2video`, { key: KEY, prompt: 'x' });
    expect(second.status).toBe(503);
    expect(ml.creates).toBe(0);
  });

  it.each([
    [`${API}/text2img`, { width: 5000 }, 'The width must not be greater than 1024.'],
    [`${API}/text2img`, { height: '2048' }, 'The height must not be greater than 1024.'],
    [`${API}/text2img`, { samples: 5 }, 'The samples must not be greater than 4.'],
    [
      `${API}/text2img`,
      { num_inference_steps: 51 },
      'The num inference steps must not be greater than 50.',
    ],
    [`${API}/text2img`, { guidance_scale: 0.5 }, 'The guidance scale must be at least 1.'],
    [`${API}/text2img`, { width: 'wide' }, 'The width must be a number.'],
    [`${API}/text2img`, { prompt: undefined }, 'The prompt field is required.'],
    [`${API}/text2video`, { width: 2048 }, 'The width must not be greater than 1024.'],
    [`${API}/video/text2video`, { width: 768 }, 'The width must not be greater than 512.'],
    [`${API}/video/text2video`, { num_frames: 30 }, 'The num frames must not be greater than 25.'],
  ])('rejects %s with %o', async (path, extra, message) => {
    const ml = await start({ errorHttpStatus: 'real' });
    const { status, json } = await post(path, imageBody(extra));
    expect(status).toBe(400);
    expect(json).toEqual({ status: 'error', message });
    expect(ml.creates).toBe(0);
  });

  it('answers a validation error with HTTP 200 by default', async () => {
    await start();
    const { status, json } = await post(`${API}/text2img`, imageBody({ width: 5000 }));
    expect(status).toBe(200);
    expect(json.status).toBe('error');
  });

  it('answers Invalid API Request for a body that is not JSON', async () => {
    const ml = await start();
    const res = await fetch(`${ml.url}${API}/text2img`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'error', message: 'Invalid API Request' });
    expect(ml.calls).toHaveLength(1);
  });
});

describe('ModelsLab emulator: housekeeping', () => {
  it('expireOutput() makes an output URL 404 like an expired temp link', async () => {
    const ml = await start();
    const { json } = await post(`${API}/text2img`, imageBody({ samples: 2 }));
    const [expired, kept] = json.output as string[];
    ml.expireOutput(expired!);
    expect((await download(expired!)).status).toBe(404);
    expect((await download(kept!)).status).toBe(200);
  });

  it('answers system_details with status ok', async () => {
    await start();
    const { json } = await post(`${API}/system_details`, { key: KEY });
    expect(json).toMatchObject({ status: 'ok' });
  });

  it('reset() forgets calls, jobs, script and counters', async () => {
    const ml = await start();
    ml.scriptNext({ processing: 0 });
    const { json: created } = await post(`${API}/text2img`, imageBody());
    ml.scriptNext('no-credits');
    ml.reset();
    expect(ml.creates).toBe(0);
    expect(ml.calls).toEqual([]);
    expect(ml.keysUsed()).toEqual([]);
    expect((await post(`${API}/text2img`, imageBody())).json.status).toBe('success');
    const { json } = await post(created.fetch_result as string, { key: KEY });
    expect(json.message).toBe('Request not found');
  });
});
