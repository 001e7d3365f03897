import { afterAll, describe, expect, it } from 'vitest';
import { API, callsTo, download, fetchesOf, isMp4, tracker, type Json } from './harness.js';

// Tests run concurrently, each on its own emulator and app.
const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const VIDEO_PATHS = [`${API}/video/text2video`, `${API}/text2video`] as const;

describe.concurrent('ModelsLab text-to-video, end to end', () => {
  it.each(VIDEO_PATHS)('immediate success on %s gives a downloadable MP4', async (videoPath) => {
    const s = await files.start({ settings: { videoPath } });
    const res = await s.create('text-to-video', {
      model: 'modelslab/cogvideox',
      prompt: 'a paper boat drifting down a rainy street',
      width: 512,
      height: 512,
    });
    expect(res.statusCode).toBe(201);
    const task = res.json<Json>();
    expect(task).toMatchObject({
      type: 'text-to-video',
      model: 'modelslab/cogvideox',
      status: 'succeeded',
      upstream: { status: 'success' },
    });
    const outputs = task.outputs as { url: string; content_type: string; expires_at: string }[];
    expect(outputs).toHaveLength(1);
    expect(outputs[0]!.content_type).toBe('video/mp4');
    // Enterprise video output is deleted after 24 h: the task says when.
    expect(Date.parse(outputs[0]!.expires_at)).toBeGreaterThan(Date.now());
    const file = await download(outputs[0]!.url);
    expect(file.status).toBe(200);
    expect(file.type).toBe('video/mp4');
    expect(isMp4(file.body)).toBe(true);

    // The configured path, and only it, received the create.
    expect(callsTo(s.emu, videoPath)).toHaveLength(1);
    const other = VIDEO_PATHS.find((p) => p !== videoPath)!;
    expect(callsTo(s.emu, other)).toHaveLength(0);
    expect(s.emu.creates).toBe(1);
  });

  it.each(VIDEO_PATHS)('a queued video on %s is fetched until it is an MP4', async (videoPath) => {
    const s = await files.start({ settings: { videoPath } });
    s.emu.scriptNext({ processing: 2, eta: 0 });
    const res = await s.create('text-to-video', { model: 'modelslab', prompt: 'waves' });
    expect(res.statusCode).toBe(201);
    const created = res.json<Json>();
    expect(created).toMatchObject({
      model: 'modelslab/cogvideox',
      status: 'running',
      upstream: { status: 'processing' },
      outputs: [],
    });
    const done = await s.waitDone(created.id as string);
    expect(done.status).toBe('succeeded');
    const [output] = done.outputs as { url: string; content_type: string }[];
    expect(output?.content_type).toBe('video/mp4');
    const file = await download(output!.url);
    expect(isMp4(file.body)).toBe(true);

    // The emulator's fetch_result for a video is the video fetch path: followed as given.
    const upstreamId = (created.upstream as Json).id as string;
    const fetches = fetchesOf(s.emu, upstreamId);
    expect(fetches.map((c) => c.path)).toEqual(Array(3).fill(`${API}/video/fetch/${upstreamId}`));
  });

  it('refuses a video over the 512 px limit before calling the upstream', async () => {
    const s = await files.start();
    const res = await s.create('text-to-video', {
      model: 'modelslab/cogvideox',
      prompt: 'waves',
      width: 768,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<Json>()).toMatchObject({
      code: 'invalid_request',
      errors: [{ path: 'width', message: expect.stringContaining('512') }],
    });
    expect(s.emu.calls).toHaveLength(0);
  });
});
