import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StartCall } from '../src/domain/ports.js';
import { MemoryTaskStore } from '../src/store/memory-store.js';
import {
  FakeAdapter,
  TENANT_A,
  buildFakeApp,
  taskRecord,
  type FakeApp,
} from './helpers/fake-provider.js';
import { auth, KEY_B } from './helpers/test-app.js';

const VIDEO_URL = 'https://cdn.example.com/out/clip.mp4';

type Json = Record<string, unknown>;

describe('video-upscale / video-extend: `video` as the id of an earlier task', () => {
  const store = new MemoryTaskStore();
  const adapter = new FakeAdapter({
    outputs: [
      { url: VIDEO_URL, contentType: 'video/mp4', expiresAt: null },
      { url: 'https://cdn.example.com/out/second.mp4', contentType: 'video/mp4', expiresAt: null },
    ],
  });
  let t: FakeApp;
  let sourceId: string;

  beforeAll(async () => {
    t = await buildFakeApp(adapter, { store });
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/text-to-video',
      headers: auth(),
      payload: { model: 'fake', prompt: 'waves on a pier' },
    });
    expect(res.statusCode).toBe(201);
    expect((res.json() as Json).status).toBe('succeeded');
    sourceId = (res.json() as { id: string }).id;
  });
  afterAll(() => t.close());

  let startsBefore = 0;
  beforeEach(() => {
    startsBefore = adapter.starts.length;
  });
  const lastStart = (): StartCall | undefined =>
    adapter.starts.length > startsBefore ? adapter.starts[adapter.starts.length - 1] : undefined;

  const create = (operation: string, video: string, key?: string) =>
    t.app.inject({
      method: 'POST',
      url: `/v1/${operation}`,
      headers: auth(key),
      payload: { model: 'fake', video },
    });

  it.each(['video-upscale', 'video-extend'])(
    '%s: own succeeded task → its first output URL reaches the adapter',
    async (operation) => {
      const res = await create(operation, sourceId);
      expect(res.statusCode).toBe(201);
      const call = lastStart();
      expect(call?.operation).toBe(operation);
      expect(call?.input.video).toBe(VIDEO_URL);
    },
  );

  it('passes a plain URL through unchanged', async () => {
    const res = await create('video-upscale', 'https://example.com/mine.mp4');
    expect(res.statusCode).toBe(201);
    expect(lastStart()?.input.video).toBe('https://example.com/mine.mp4');
  });

  it("another tenant's task id → 404 task_not_found naming `video`; the adapter saw no call", async () => {
    const res = await create('video-upscale', sourceId, KEY_B);
    expect(res.statusCode).toBe(404);
    const problem = res.json() as Json;
    expect(problem).toMatchObject({ code: 'task_not_found', errors: [{ path: 'video' }] });
    expect(JSON.stringify(problem)).not.toContain(VIDEO_URL);
    expect(lastStart()).toBeUndefined();
  });

  it('an unknown task id → 404 task_not_found; the adapter saw no call', async () => {
    const res = await create('video-extend', 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'task_not_found' });
    expect(lastStart()).toBeUndefined();
  });

  it('a task that has not succeeded → 409 output_not_ready with its status', async () => {
    const running = taskRecord({
      provider: 'fake',
      type: 'text-to-video',
      status: 'running',
      progress: null,
      completedAt: null,
    });
    await store.insert(running);
    const res = await create('video-upscale', running.id);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'output_not_ready' });
    expect((res.json() as Json).detail).toContain('is running');
    expect(lastStart()).toBeUndefined();
  });

  it('a succeeded task without outputs → 409 output_not_ready', async () => {
    const empty = taskRecord({ provider: 'fake', type: 'text-to-video', outputs: [] });
    await store.insert(empty);
    const res = await create('video-extend', empty.id);
    expect(res.statusCode).toBe(409);
    expect((res.json() as Json).detail).toContain('without outputs');
  });

  it('a task whose first output is an image → 400 naming `video`', async () => {
    const image = taskRecord({
      provider: 'fake',
      outputs: [
        { url: 'https://cdn.example.com/a.png', contentType: 'image/png', expiresAt: null },
      ],
    });
    await store.insert(image);
    const res = await create('video-upscale', image.id);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'invalid_request', errors: [{ path: 'video' }] });
    expect(lastStart()).toBeUndefined();
  });

  it('a task whose output link has expired → 410 output_expired', async () => {
    const old = taskRecord({
      provider: 'fake',
      type: 'text-to-video',
      tenant: TENANT_A,
      outputs: [{ url: VIDEO_URL, contentType: 'video/mp4', expiresAt: Date.now() - 1 }],
    });
    await store.insert(old);
    const res = await create('video-extend', old.id);
    expect(res.statusCode).toBe(410);
    expect(res.json()).toMatchObject({ code: 'output_expired' });
    expect(lastStart()).toBeUndefined();
  });

  it('the domain resolves the same way (TaskService.create)', async () => {
    const task = await t.app.tasks.create(TENANT_A, 'video-upscale', {
      model: 'fake',
      video: sourceId,
    });
    expect(task.status).toBe('succeeded');
    expect(lastStart()?.input.video).toBe(VIDEO_URL);
  });
});
