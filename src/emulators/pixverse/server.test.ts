import { randomUUID } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { makePng, PNG_SIGNATURE } from '../shared/png.js';
import { startPixverseEmulator, type PixverseEmulator } from './server.js';

const KEY = 'pixverse-emulator-key';

interface Envelope {
  ErrCode: number;
  ErrMsg: string;
  Resp: Record<string, unknown> | null;
}

/** A request with a valid key and a fresh trace id unless the caller overrides them. */
async function call(
  emu: PixverseEmulator,
  method: 'GET' | 'POST',
  path: string,
  opts: { json?: unknown; form?: FormData; key?: string | null; trace?: string | null } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (opts.key !== null) headers['API-KEY'] = opts.key ?? KEY;
  if (opts.trace !== null) headers['Ai-trace-id'] = opts.trace ?? randomUUID();
  let body: string | FormData | undefined = opts.form;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  return fetch(emu.baseUrl + path, { method, headers, body });
}

async function api(...args: Parameters<typeof call>): Promise<Envelope> {
  const res = await call(...args);
  expect(res.status).toBe(200);
  return (await res.json()) as Envelope;
}

function fileForm(data: Buffer, type = 'image/png', filename = 'cat.png'): FormData {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(data)], { type }), filename);
  return form;
}

async function uploadPng(emu: PixverseEmulator): Promise<number> {
  const body = await api(emu, 'POST', '/image/upload', { form: fileForm(makePng(32, 32, 1)) });
  expect(body.ErrCode).toBe(0);
  return body.Resp!['img_id'] as number;
}

const textJob = {
  model: 'v4.5',
  prompt: 'a cat surfing',
  duration: 5,
  quality: '540p',
  aspect_ratio: '16:9',
};

async function createText(emu: PixverseEmulator, extra: object = {}): Promise<Envelope> {
  return api(emu, 'POST', '/video/text/generate', { json: { ...textJob, ...extra } });
}

async function poll(emu: PixverseEmulator, id: number): Promise<Record<string, unknown>> {
  const body = await api(emu, 'GET', `/video/result/${id}`);
  expect(body.ErrCode).toBe(0);
  return body.Resp!;
}

describe('PixVerse emulator', () => {
  let emu: PixverseEmulator;
  beforeAll(async () => {
    emu = await startPixverseEmulator();
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  it('serves under /openapi/v2 and reports the balance', async () => {
    expect(emu.baseUrl).toBe(`${emu.url}/openapi/v2`);
    const body = await api(emu, 'GET', '/account/balance');
    expect(body).toMatchObject({ ErrCode: 0, ErrMsg: 'success' });
    expect(Object.keys(body.Resp!).sort()).toEqual([
      'account_id',
      'credit_monthly',
      'credit_package',
    ]);
  });

  describe('image upload', () => {
    it('accepts a file, serves a real image and records sizes, not bytes', async () => {
      const png = makePng(32, 32, 1);
      const body = await api(emu, 'POST', '/image/upload', { form: fileForm(png) });
      expect(body.ErrCode).toBe(0);
      expect(Number.isInteger(body.Resp!['img_id'])).toBe(true);
      const img = await fetch(body.Resp!['img_url'] as string);
      expect(img.status).toBe(200);
      expect(Buffer.from(await img.arrayBuffer()).subarray(0, 8)).toEqual(PNG_SIGNATURE);

      const recorded = emu.calls.find((c) => c.path === '/openapi/v2/image/upload');
      expect(recorded?.headers['api-key']).toBe(KEY);
      expect(recorded?.body).toEqual({
        fields: {},
        files: [{ field: 'image', filename: 'cat.png', mimetype: 'image/png', size: png.length }],
      });
    });

    it('accepts an image_url without fetching it', async () => {
      const form = new FormData();
      form.append('image_url', 'https://example.invalid/cat.jpg');
      const body = await api(emu, 'POST', '/image/upload', { form });
      expect(body.ErrCode).toBe(0);
      expect(body.Resp).toMatchObject({ img_id: expect.any(Number), img_url: expect.any(String) });
    });

    it('rejects a non-image (500032), a 20 MB file (500030) and an empty form (400011)', async () => {
      const text = await api(emu, 'POST', '/image/upload', {
        form: fileForm(Buffer.from('hello'), 'text/plain', 'a.txt'),
      });
      expect(text.ErrCode).toBe(500032);
      const big = Buffer.alloc(20 * 1024 * 1024 + 1);
      makePng().copy(big);
      const large = await api(emu, 'POST', '/image/upload', { form: fileForm(big) });
      expect(large.ErrCode).toBe(500030);
      const empty = await api(emu, 'POST', '/image/upload', { form: new FormData() });
      expect(empty.ErrCode).toBe(400011);
    });

    it('answers a moderated image with HTTP 500 and the lower-case envelope', async () => {
      const form = new FormData();
      form.append('image_url', 'https://example.invalid/moderation.png');
      const res = await call(emu, 'POST', '/image/upload', { form });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ err_code: 500054, err_msg: expect.any(String), resp: '' });
    });
  });

  describe('generate', () => {
    it('creates text and image videos with 12-digit ids', async () => {
      const text = await createText(emu, { webhook_id: '1234' });
      expect(text.ErrCode).toBe(0);
      expect(String(text.Resp!['video_id'])).toMatch(/^\d{12}$/);

      const imgId = await uploadPng(emu);
      const img = await api(emu, 'POST', '/video/img/generate', {
        json: {
          img_id: imgId,
          model: 'v5',
          prompt: 'turns its head',
          duration: 5,
          quality: '540p',
        },
      });
      expect(img.ErrCode).toBe(0);
      expect(typeof img.Resp!['video_id']).toBe('number');
      expect(emu.creates).toBe(2);
      expect(emu.videoStatus(img.Resp!['video_id'] as number)).toBe(5);
    });

    it('rejects an unknown img_id with 400032', async () => {
      const body = await api(emu, 'POST', '/video/img/generate', {
        json: { img_id: 1, model: 'v5', prompt: 'x', duration: 5, quality: '540p' },
      });
      expect(body.ErrCode).toBe(400032);
      expect(emu.creates).toBe(0);
    });

    it.each([
      ['v5 at 10 s', { model: 'v5', duration: 10 }, 400017],
      ['v5.5 at 1080p 10 s', { model: 'v5.5', quality: '1080p', duration: 10 }, 400017],
      ['v3.5 at 1080p 8 s', { model: 'v3.5', quality: '1080p', duration: 8 }, 400017],
      ['fast at 8 s', { model: 'v4', motion_mode: 'fast', duration: 8 }, 400017],
      ['fast at 1080p', { model: 'v4', motion_mode: 'fast', quality: '1080p' }, 400017],
      ['fast on v5', { model: 'v5', motion_mode: 'fast' }, 400017],
      ['v6 at 16 s', { model: 'v6', duration: 16 }, 400017],
      ['unknown model', { model: 'v9' }, 400017],
      ['bad quality', { quality: '480p' }, 400017],
      ['bad aspect ratio', { aspect_ratio: '2:1' }, 400017],
      ['seed out of range', { seed: 2_147_483_648 }, 400017],
      ['duration as string', { duration: '5' }, 400013],
      ['prompt as number', { prompt: 5 }, 400013],
      ['missing aspect ratio', { aspect_ratio: undefined }, 400011],
      ['prompt over 2048', { prompt: 'x'.repeat(2049) }, 400018],
      ['negative prompt over 2048', { negative_prompt: 'x'.repeat(2049) }, 400019],
    ])('rejects %s', async (_name, extra, code) => {
      const body = await createText(emu, extra);
      expect(body.ErrCode).toBe(code);
      expect(body.Resp).toBeNull();
    });

    it('accepts v6 at 12 s, v5.5 at 10 s and fast on v4.5 at 5 s', async () => {
      for (const extra of [
        { model: 'v6', duration: 12 },
        { model: 'v5.5', duration: 10, quality: '720p' },
        { model: 'v4.5', motion_mode: 'fast' },
      ]) {
        expect((await createText(emu, extra)).ErrCode).toBe(0);
      }
    });

    it('answers a non-JSON body with 400013', async () => {
      const res = await fetch(`${emu.baseUrl}/video/text/generate`, {
        method: 'POST',
        headers: {
          'API-KEY': KEY,
          'Ai-trace-id': randomUUID(),
          'Content-Type': 'application/json',
        },
        body: '{not json',
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Envelope).ErrCode).toBe(400013);
    });
  });

  describe('headers', () => {
    it('rejects a bad or missing API-KEY on HTTP 200', async () => {
      expect((await createText(emu)).ErrCode).toBe(0);
      const bad = await api(emu, 'GET', '/account/balance', { key: 'nope' });
      expect(bad).toEqual({ ErrCode: 10002, ErrMsg: 'Invalid API-KEY', Resp: null });
      const missing = await api(emu, 'GET', '/account/balance', { key: null });
      expect(missing.ErrCode).toBe(10002);
    });

    it('rejects a missing Ai-trace-id and a reused one', async () => {
      expect((await api(emu, 'GET', '/account/balance', { trace: null })).ErrCode).toBe(400017);
      const trace = randomUUID();
      expect((await createText(emu)).ErrCode).toBe(0);
      const first = await api(emu, 'POST', '/video/text/generate', { json: textJob, trace });
      expect(first.ErrCode).toBe(0);
      const again = await api(emu, 'POST', '/video/text/generate', { json: textJob, trace });
      expect(again).toMatchObject({ ErrCode: 400033, ErrMsg: 'Invalid traceId' });
      expect(emu.creates).toBe(2);
      expect(emu.traceIds.filter((t) => t === trace)).toHaveLength(2);
    });
  });

  describe('result', () => {
    it('answers status 5 twice, then 1 with a downloadable MP4', async () => {
      const id = (await createText(emu, { model: 'v5', quality: '720p', seed: 42 })).Resp![
        'video_id'
      ] as number;
      expect((await poll(emu, id))['status']).toBe(5);
      expect((await poll(emu, id))['status']).toBe(5);
      const done = await poll(emu, id);
      expect(done).toMatchObject({
        id,
        status: 1,
        prompt: 'a cat surfing',
        negative_prompt: '',
        seed: 42,
        style: '',
        resolution_ratio: 720,
        outputWidth: 1280,
        outputHeight: 720,
        size: expect.any(Number),
        create_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        modify_time: expect.any(String),
      });
      expect(emu.videoStatus(id)).toBe(1);

      const mp4 = await fetch(done['url'] as string);
      expect(mp4.status).toBe(200);
      const bytes = Buffer.from(await mp4.arrayBuffer());
      expect(bytes.length).toBe(done['size']);
      expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    });

    it.each([
      ['moderation', 7],
      ['failed', 8],
      ['deleted', 6],
    ] as const)(
      'plays a scripted %s outcome as status %i without a url',
      async (outcome, status) => {
        emu.scriptNext(outcome);
        const id = (await createText(emu)).Resp!['video_id'] as number;
        await poll(emu, id);
        await poll(emu, id);
        expect(await poll(emu, id)).toMatchObject({ status, url: '' });
      },
    );

    it('plays scripted outcomes in order, with their own poll count', async () => {
      emu.scriptNext({ status: 8, afterPolls: 0 });
      const failed = (await createText(emu)).Resp!['video_id'] as number;
      const normal = (await createText(emu)).Resp!['video_id'] as number;
      expect((await poll(emu, failed))['status']).toBe(8);
      expect((await poll(emu, normal))['status']).toBe(5);
    });

    it('answers an unknown id with 500008', async () => {
      const body = await api(emu, 'GET', '/video/result/123456789012');
      expect(body).toMatchObject({ ErrCode: 500008, ErrMsg: 'data not found' });
    });
  });

  it('injects faults on the next requests only', async () => {
    emu.failNext({ kind: 'http500' });
    emu.failNext({ kind: 'http429', retryAfter: 3 });
    emu.failNext({ kind: 'errcode', code: 500069 }, 2);
    const plain = await call(emu, 'GET', '/account/balance');
    expect(plain.status).toBe(500);
    const limited = await call(emu, 'GET', '/account/balance');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect((await createText(emu)).ErrCode).toBe(500069);
    expect((await createText(emu)).ErrCode).toBe(500069);
    expect((await createText(emu)).ErrCode).toBe(0);
    expect(emu.creates).toBe(1);
  });

  it('reset clears calls, scripts, faults and counters', async () => {
    emu.scriptNext('failed');
    emu.failNext({ kind: 'http500' }, 2);
    expect((await call(emu, 'GET', '/account/balance')).status).toBe(500);
    emu.reset();
    expect(emu.calls).toHaveLength(0);
    expect(emu.traceIds).toHaveLength(0);
    const id = (await createText(emu)).Resp!['video_id'] as number;
    expect(emu.creates).toBe(1);
    await poll(emu, id);
    await poll(emu, id);
    expect((await poll(emu, id))['status']).toBe(1);
  });
});

describe('PixVerse emulator options', () => {
  it('caps concurrent generations with 500044 until one finishes', async () => {
    const emu = await startPixverseEmulator({ maxConcurrent: 2, pollsUntilDone: 0 });
    try {
      const first = (await createText(emu)).Resp!['video_id'] as number;
      expect((await createText(emu)).ErrCode).toBe(0);
      const over = await createText(emu);
      expect(over).toMatchObject({
        ErrCode: 500044,
        ErrMsg: 'concurrent generation limit reached',
      });
      expect((await poll(emu, first))['status']).toBe(1);
      expect((await createText(emu)).ErrCode).toBe(0);
      expect(emu.creates).toBe(3);
    } finally {
      await emu.close();
    }
  });

  it('replays the first answer to a reused trace id, with custom keys and prefix', async () => {
    const emu = await startPixverseEmulator({
      reusedTraceId: 'replay',
      apiKeys: ['k1'],
      pathPrefix: '/pv',
      pollsUntilDone: 1,
    });
    try {
      expect(emu.baseUrl).toBe(`${emu.url}/pv`);
      const trace = randomUUID();
      const req = { json: textJob, key: 'k1', trace };
      const first = await api(emu, 'POST', '/video/text/generate', req);
      const again = await api(emu, 'POST', '/video/text/generate', req);
      expect(first.ErrCode).toBe(0);
      expect(again).toEqual(first);
      expect(emu.creates).toBe(1);

      // A replayed poll is the stale first answer: the "stuck in generating" symptom.
      const id = first.Resp!['video_id'] as number;
      const pollTrace = randomUUID();
      const poll1 = await api(emu, 'GET', `/video/result/${id}`, { key: 'k1', trace: pollTrace });
      const poll2 = await api(emu, 'GET', `/video/result/${id}`, { key: 'k1', trace: pollTrace });
      expect(poll1.Resp!['status']).toBe(5);
      expect(poll2.Resp!['status']).toBe(5);
      const fresh = await api(emu, 'GET', `/video/result/${id}`, { key: 'k1' });
      expect(fresh.Resp!['status']).toBe(1);
    } finally {
      await emu.close();
    }
  });

  it('expires output URLs after mediaTtlMs', async () => {
    const emu = await startPixverseEmulator({ pollsUntilDone: 0, mediaTtlMs: 50 });
    try {
      const id = (await createText(emu)).Resp!['video_id'] as number;
      const url = (await poll(emu, id))['url'] as string;
      expect((await fetch(url)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 80));
      expect((await fetch(url)).status).toBe(404);
    } finally {
      await emu.close();
    }
  });
});
