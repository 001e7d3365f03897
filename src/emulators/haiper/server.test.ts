import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHaiperEmulator, type HaiperEmulator } from './server.js';

const KEY = 'haiper-emulator-key';

interface TaskView {
  status: string;
  progress: number;
  mediaUrl?: string;
  expireTime?: number;
}

/** `key: null` sends no Authorization header. */
function headers(key: string | null = KEY): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) h.authorization = `Bearer ${key}`;
  return h;
}

async function create(
  emu: HaiperEmulator,
  op: 'generate' | 'upscale' | 'extend',
  body: unknown,
  key: string | null = KEY,
): Promise<Response> {
  return fetch(`${emu.basePath}/${emu.endpointPath}/video/${op}`, {
    method: 'POST',
    headers: headers(key),
    body: JSON.stringify(body),
  });
}

async function createTask(
  emu: HaiperEmulator,
  op: 'generate' | 'upscale' | 'extend',
  body: unknown,
) {
  const res = await create(emu, op, body);
  expect(res.status).toBe(200);
  const json = (await res.json()) as { taskId: string };
  expect(json.taskId).toMatch(/^[0-9a-f]+$/);
  return json.taskId;
}

async function poll(emu: HaiperEmulator, taskId: string): Promise<TaskView> {
  const res = await fetch(`${emu.basePath}/${emu.endpointPath}/video/tasks/${taskId}`, {
    headers: headers(),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as TaskView;
}

/** Polls until the task leaves PENDING/IN_PROGRESS, returning every view seen. */
async function pollToEnd(emu: HaiperEmulator, taskId: string): Promise<TaskView[]> {
  const views: TaskView[] = [];
  for (let i = 0; i < 20; i++) {
    const view = await poll(emu, taskId);
    views.push(view);
    if (view.status !== 'PENDING' && view.status !== 'IN_PROGRESS') return views;
  }
  throw new Error(`task ${taskId} never finished`);
}

describe('Haiper (Cloudsway MaaS) emulator', () => {
  let emu: HaiperEmulator;

  beforeAll(async () => {
    emu = await startHaiperEmulator({ endpointPath: 'LPUqHEAjfonOmohV' });
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  it('walks a text-to-video task PENDING → IN_PROGRESS → SUCCESS with a real MP4', async () => {
    const taskId = await createTask(emu, 'generate', {
      prompt: 'Generate a video of a sunset over the ocean.',
      negativePrompt: 'Avoid dark and gloomy scenes.',
      settings: { seed: 42, duration: 4, aspectRatio: '9:16' },
    });
    const views = await pollToEnd(emu, taskId);

    expect(views.map((v) => v.status)).toEqual([
      'PENDING',
      'IN_PROGRESS',
      'IN_PROGRESS',
      'SUCCESS',
    ]);
    const running = views.filter((v) => v.status === 'IN_PROGRESS').map((v) => v.progress);
    for (const p of running) expect(p > 0 && p < 1).toBe(true);
    expect(running[1]!).toBeGreaterThan(running[0]!);

    const done = views.at(-1)!;
    // A millisecond epoch about an hour ahead (a seconds epoch would be ~1000x smaller).
    expect(done.expireTime!).toBeGreaterThan(Date.now() + 59 * 60 * 1000);
    expect(done.expireTime!).toBeLessThan(Date.now() + 61 * 60 * 1000);
    const media = await fetch(done.mediaUrl!);
    expect(media.status).toBe(200);
    expect(media.headers.get('content-type')).toBe('video/mp4');
    const bytes = Buffer.from(await media.arrayBuffer());
    expect(bytes.subarray(4, 8).toString('ascii')).toBe('ftyp');

    // Later polls repeat the same result.
    expect(await poll(emu, taskId)).toEqual(done);
  });

  it('accepts image-to-video, upscale and extend, and counts creates', async () => {
    await createTask(emu, 'generate', {
      prompt: 'animate this',
      config: { sourceImage: 'https://demo.jpg' },
    });
    const upscaled = await createTask(emu, 'upscale', {
      config: { sourceVideo: 'https://demo.mp4' },
    });
    const extended = await createTask(emu, 'extend', {
      prompt: 'keep going',
      config: { sourceVideo: 'http://example.com/in.mp4', extendDuration: 2 },
      settings: { seed: 42, guidanceScale: 7.5 },
    });
    expect(emu.creates).toBe(3);
    expect((await pollToEnd(emu, upscaled)).at(-1)!.status).toBe('SUCCESS');
    expect((await pollToEnd(emu, extended)).at(-1)!.status).toBe('SUCCESS');
  });

  it('records calls with lower-cased headers and the parsed body', async () => {
    await createTask(emu, 'upscale', { config: { sourceVideo: 'https://demo.mp4' } });
    expect(emu.calls).toHaveLength(1);
    const call = emu.calls[0]!;
    expect(call.method).toBe('POST');
    expect(call.path).toBe('/v1/ai/LPUqHEAjfonOmohV/video/upscale');
    expect(call.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(call.body).toEqual({ config: { sourceVideo: 'https://demo.mp4' } });
  });

  it('scripts FAIL and stuck-pending outcomes in order', async () => {
    emu.scriptNext('fail');
    emu.scriptNext('stuck-pending');
    const failing = await createTask(emu, 'generate', { prompt: 'a' });
    const stuck = await createTask(emu, 'generate', { prompt: 'b' });
    const normal = await createTask(emu, 'generate', { prompt: 'c' });

    const failed = (await pollToEnd(emu, failing)).at(-1)!;
    expect(failed.status).toBe('FAIL');
    expect(failed.mediaUrl).toBeUndefined();
    expect(failed.progress).toBeGreaterThanOrEqual(0);
    expect(failed.progress).toBeLessThan(1);

    for (let i = 0; i < 8; i++) expect((await poll(emu, stuck)).status).toBe('PENDING');
    expect((await pollToEnd(emu, normal)).at(-1)!.status).toBe('SUCCESS');
  });

  it.each([
    ['generate', { prompt: 'x', settings: { duration: 3 } }, 'settings.duration'],
    ['generate', { prompt: 'x', settings: { aspectRatio: '21:9' } }, 'settings.aspectRatio'],
    ['generate', { settings: { duration: 2 } }, 'prompt'],
    ['generate', { prompt: 'x', config: { sourceImage: 'ftp://demo.jpg' } }, 'config.sourceImage'],
    ['upscale', { config: {} }, 'config.sourceVideo'],
    ['upscale', {}, 'config'],
    [
      'extend',
      { config: { sourceVideo: 'https://demo.mp4', extendDuration: 8 } },
      'extendDuration',
    ],
    ['extend', { prompt: 'x', config: {} }, 'config.sourceVideo'],
  ] as const)('rejects a bad %s body with 400 (%j)', async (op, body, field) => {
    const res = await create(emu, op, body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { message: string; code: string } };
    expect(json.error.code).toBe('invalid_request');
    expect(json.error.message).toContain(field);
    expect(emu.creates).toBe(0);
  });

  it('answers 400 with the error envelope for a body that is not JSON', async () => {
    const res = await fetch(`${emu.basePath}/${emu.endpointPath}/video/generate`, {
      method: 'POST',
      headers: headers(),
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  it('answers 401 for a missing or wrong key', async () => {
    for (const key of [null, 'wrong-key']) {
      const res = await create(emu, 'generate', { prompt: 'x' }, key);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    const res = await fetch(`${emu.basePath}/${emu.endpointPath}/video/tasks/abc`);
    expect(res.status).toBe(401);
    expect(emu.creates).toBe(0);
  });

  it('answers 404 for an unknown endpointPath or taskId', async () => {
    const wrongEndpoint = await fetch(`${emu.basePath}/someoneElse/video/generate`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ prompt: 'x' }),
    });
    expect(wrongEndpoint.status).toBe(404);
    expect(((await wrongEndpoint.json()) as { error: { code: string } }).error.code).toBe(
      'not_found',
    );
    const unknownTask = await fetch(`${emu.basePath}/${emu.endpointPath}/video/tasks/deadbeef`, {
      headers: headers(),
    });
    expect(unknownTask.status).toBe(404);
  });

  it('injects 429 with Retry-After, then 5xx, then recovers', async () => {
    emu.failNext({ kind: 'http429', retryAfter: 7 }, 2);
    emu.failNext({ kind: 'http5xx', status: 503 });
    for (let i = 0; i < 2; i++) {
      const res = await create(emu, 'generate', { prompt: 'x' });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('7');
    }
    const res = await create(emu, 'generate', { prompt: 'x' });
    expect(res.status).toBe(503);
    expect(emu.creates).toBe(0);
    await createTask(emu, 'generate', { prompt: 'x' });
    expect(emu.creates).toBe(1);
  });

  it('applies faults to polls too, defaulting to Retry-After 1 and status 500', async () => {
    const taskId = await createTask(emu, 'generate', { prompt: 'x' });
    const url = `${emu.basePath}/${emu.endpointPath}/video/tasks/${taskId}`;
    emu.failNext({ kind: 'http429' });
    emu.failNext({ kind: 'http5xx' });
    const limited = await fetch(url, { headers: headers() });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect((await fetch(url, { headers: headers() })).status).toBe(500);
    // Failed polls do not advance the task.
    expect((await poll(emu, taskId)).status).toBe('PENDING');
  });
});

describe('Haiper emulator media expiry', () => {
  let emu: HaiperEmulator;

  beforeAll(async () => {
    emu = await startHaiperEmulator({ pollsPending: 0, pollsInProgress: 0, mediaTtlMs: 50 });
  });
  afterAll(() => emu.close());

  it('answers 403 for a mediaUrl past its expireTime', async () => {
    const taskId = await createTask(emu, 'generate', { prompt: 'x' });
    const done = await poll(emu, taskId);
    expect(done.status).toBe('SUCCESS');
    expect((await fetch(done.mediaUrl!)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, done.expireTime! - Date.now() + 20));
    expect((await fetch(done.mediaUrl!)).status).toBe(403);
  });
});
