import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHaiperEmulator, type HaiperEmulator } from '../../src/emulators/haiper/server.js';
import type { HaiperSettings } from '../../src/providers/haiper/index.js';
import { auth, buildTestApp, type TestApp } from '../helpers/test-app.js';
import { createAndFinish, pathOf, sha256, type Json } from './helpers.js';

const ACCESS_KEY = 'haiper-media-storage-key-0123';
const MEDIA_TTL_MS = 1500;

describe('media storage (file:) with the Haiper emulator, whose links expire', () => {
  let emu: HaiperEmulator;
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'genway-media-'));
    emu = await startHaiperEmulator({ accessKeys: [ACCESS_KEY], mediaTtlMs: MEDIA_TTL_MS });
    const haiper: HaiperSettings = {
      baseUrl: emu.basePath,
      endpointPath: emu.endpointPath,
      credentials: [{ id: 'haiper-1', secret: ACCESS_KEY }],
      emulated: false,
    };
    t = await buildTestApp({
      env: {
        MEDIA_STORE_URL: `file:${dir}`,
        MEDIA_SIGNING_KEY: 'media-signing-key-for-tests-0123456789',
        PUBLIC_URL: 'https://genway.test',
      },
      providers: { haiper },
    });
  });
  afterAll(async () => {
    await t?.close();
    await emu?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const video = () =>
    createAndFinish(t.app, '/v1/text-to-video', { model: 'haiper', prompt: 'waves on rocks' });

  it('stores the video before announcing success and serves identical bytes after the upstream link died', async () => {
    const task = await video();
    const out = task.outputs[0]!;
    expect(out.stored).toBe(true);
    expect(out.content_type).toBe('video/mp4');
    expect(out.url.startsWith('https://genway.test/media/tasks/')).toBe(true);
    expect(out.bytes).toBeGreaterThan(100);
    expect(out.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Retention (30 d by default), not the upstream's 1.5 s.
    expect(Date.parse(out.expires_at!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    // The upstream's own link expires (Haiper answers 403 after expireTime).
    await new Promise((resolve) => setTimeout(resolve, MEDIA_TTL_MS + 300));

    const viaKey = await t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id}/outputs/0`,
      headers: auth(),
    });
    expect(viaKey.statusCode).toBe(200);
    expect(viaKey.headers['content-type']).toBe('video/mp4');
    const viaLink = await t.app.inject({ method: 'GET', url: pathOf(out.url) }); // no Authorization
    expect(viaLink.statusCode).toBe(200);
    expect(viaLink.rawPayload.equals(viaKey.rawPayload)).toBe(true);
    expect(viaLink.rawPayload.length).toBe(out.bytes);
    expect(sha256(viaLink.rawPayload)).toBe(out.sha256);

    const ranged = await t.app.inject({
      method: 'GET',
      url: pathOf(out.url),
      headers: { range: 'bytes=0-99' },
    });
    expect(ranged.statusCode).toBe(206);
    expect(ranged.headers['content-range']).toBe(`bytes 0-99/${out.bytes}`);
    expect(ranged.rawPayload.equals(viaLink.rawPayload.subarray(0, 100))).toBe(true);

    for (const url of [pathOf(out.url), `/v1/tasks/${task.id}/outputs/0`]) {
      const outside = await t.app.inject({
        method: 'GET',
        url,
        headers: { ...auth(), range: `bytes=${out.bytes! + 10}-` },
      });
      expect(outside.statusCode).toBe(416);
      expect(outside.headers['content-type']).toContain('application/problem+json');
      expect(outside.headers['content-range']).toBe(`bytes */${out.bytes}`);
    }
  });

  it("upscales an earlier task by id from genway's copy once the upstream link died", async () => {
    const source = await video();
    await new Promise((resolve) => setTimeout(resolve, MEDIA_TTL_MS + 300));
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/video-upscale',
      headers: auth(),
      payload: { model: 'haiper', video: source.id },
    });
    expect(res.statusCode).toBe(201);
    const sent = emu.calls.filter((c) => c.method === 'POST').at(-1)?.body as {
      config: { sourceVideo: string };
    };
    // A signed link under PUBLIC_URL (the upstream fetches it without a key), not Haiper's own.
    const link = sent.config.sourceVideo;
    expect(link.startsWith(`https://genway.test/media/tasks/${source.id}/0?expires=`)).toBe(true);
    const served = await t.app.inject({ method: 'GET', url: pathOf(link) });
    expect(served.statusCode).toBe(200);
    expect(sha256(served.rawPayload)).toBe(source.outputs[0]!.sha256);
  });

  it('re-issues links on every read; a tampered or expired link is refused with 403', async () => {
    const task = await video();
    const url = task.outputs[0]!.url;
    const u = new URL(url);
    const sig = u.searchParams.get('signature')!;
    const tampered = [
      url.replace(`/tasks/${task.id}/0`, `/tasks/${task.id}/1`),
      url.replace(sig, `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`),
      url.replace(/expires=(\d+)/, (_, e: string) => `expires=${Number(e) + 3600}`),
      url.replace(/&signature=[^&]+/, ''),
    ];
    for (const bad of tampered) {
      const res = await t.app.inject({ method: 'GET', url: pathOf(bad) });
      expect(res.statusCode, bad).toBe(403);
      expect((res.json() as Json).code).toBe('media_link_invalid');
    }
    // An expired link: signed by a signer whose clock says the link is an hour old.
    const { MediaLinkSigner } = await import('../../src/domain/media-links.js');
    const { createHash } = await import('node:crypto');
    const key = createHash('sha256').update('media-signing-key-for-tests-0123456789').digest();
    const old = new MediaLinkSigner(key, 1000, () => Date.now() - 3_600_000);
    const expired = await t.app.inject({
      method: 'GET',
      url: pathOf(old.sign('https://genway.test', task.id, 0, 'file')),
    });
    expect(expired.statusCode).toBe(403);
    expect((expired.json() as Json).code).toBe('media_link_expired');
    // The same signer with a live clock: valid (so the 403 above was the expiry alone).
    const fresh = new MediaLinkSigner(key, 60_000);
    const ok = await t.app.inject({
      method: 'GET',
      url: pathOf(fresh.sign('https://genway.test', task.id, 0, 'file')),
    });
    expect(ok.statusCode).toBe(200);
  });

  it('gives videos a poster frame where ffmpeg exists', async () => {
    const { ffmpegAvailable } = await import('../../src/media/ffmpeg-posters.js');
    const task = await video();
    const out = task.outputs[0]!;
    if (!(await ffmpegAvailable())) {
      console.warn('ffmpeg is not installed: skipping the poster check (no poster_url expected)');
      expect(out.poster_url).toBeUndefined();
      return;
    }
    expect(out.poster_url).toMatch(/\/media\/tasks\/.+\/0\/poster\?expires=/);
    const poster = await t.app.inject({ method: 'GET', url: pathOf(out.poster_url!) });
    expect(poster.statusCode).toBe(200);
    expect(poster.headers['content-type']).toBe('image/jpeg');
    expect(poster.rawPayload.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).toBe(true);
    // The OpenAI surface's thumbnail is the same poster.
    const thumb = await t.app.inject({
      method: 'GET',
      url: `/openai/v1/videos/${task.id}/content?variant=thumbnail`,
      headers: auth(),
    });
    expect(thumb.statusCode).toBe(302);
    expect(thumb.headers.location).toMatch(/\/media\/tasks\/.+\/0\/poster\?expires=/);
  });

  it('DELETE /v1/tasks/{id} removes the stored bytes and hides the task', async () => {
    const task = await video();
    const link = pathOf(task.outputs[0]!.url);
    const before = await readdir(join(dir, 'tasks', task.id));
    expect(before).toContain('0');
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${task.id}`,
      headers: auth(),
    });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ id: task.id, object: 'task.deleted', deleted: true });
    expect(await readdir(join(dir, 'tasks', task.id))).toEqual([]);
    expect((await t.app.inject({ method: 'GET', url: link })).statusCode).toBe(410);
    const gone = await t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id}`,
      headers: auth(),
    });
    expect(gone.statusCode).toBe(404);
  });

  it('the OpenAI surface serves the stored video and its DELETE removes the bytes', async () => {
    const task = await video();
    const content = await t.app.inject({
      method: 'GET',
      url: `/openai/v1/videos/${task.id}/content`,
      headers: auth(),
    });
    expect(content.statusCode).toBe(200);
    expect(sha256(content.rawPayload)).toBe(task.outputs[0]!.sha256);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/openai/v1/videos/${task.id}`,
      headers: auth(),
    });
    expect(del.statusCode).toBe(200);
    expect(await readdir(join(dir, 'tasks', task.id))).toEqual([]);
    expect(
      (await t.app.inject({ method: 'GET', url: pathOf(task.outputs[0]!.url) })).statusCode,
    ).toBe(410);
  });

  it('retention purges old bytes: the output then answers 410 output_expired', async () => {
    const task = await video();
    const file = join(dir, 'tasks', task.id, '0');
    // Age the file past retention, then run the purge the app runs on its timer.
    const old = new Date(Date.now() - 31 * 86_400_000);
    await utimes(file, old, old);
    const { purgeExpiredMedia } = await import('../../src/domain/media-retention.js');
    const { FileMediaStore } = await import('../../src/media/file-media-store.js');
    expect(
      await purgeExpiredMedia(new FileMediaStore(dir), 30 * 86_400_000, Date.now()),
    ).toBeGreaterThanOrEqual(1);
    const viaKey = await t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id}/outputs/0`,
      headers: auth(),
    });
    expect(viaKey.statusCode).toBe(410);
    expect((viaKey.json() as Json).code).toBe('output_expired');
    expect(
      (await t.app.inject({ method: 'GET', url: pathOf(task.outputs[0]!.url) })).statusCode,
    ).toBe(410);
  });

  it('counts copies and stored bytes in /metrics without tenant labels', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).toMatch(/genway_media_copies_total\{outcome="stored"\} [1-9]/);
    expect(res.body).toMatch(/genway_media_stored_bytes_total [1-9]/);
    expect(res.body).not.toMatch(/genway_media_[a-z_]+\{[^}]*tenant/);
  });
});
