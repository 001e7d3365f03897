import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StartCall } from '../src/domain/ports.js';
import { MEDIA_MAX_BYTES, MEDIA_TTL_MS, MediaHost, mediaIdOf } from '../src/domain/media-host.js';
import { makePng } from '../src/emulators/shared/png.js';
import { MemoryTaskStore } from '../src/store/memory-store.js';
import { SqliteTaskStore } from '../src/store/sqlite-store.js';
import { FakeAdapter, buildFakeApp, type FakeApp } from './helpers/fake-provider.js';
import { auth } from './helpers/test-app.js';

const PUBLIC_URL = 'https://genway.example.com';
const PNG = makePng(32, 32, 7);

/** An adapter that publishes `PNG` on start (as Haiper does with an uploaded image). */
function publishingAdapter() {
  const published: string[] = [];
  const adapter = new FakeAdapter({
    onStart: async (call: StartCall) => {
      if (call.publishMedia) published.push(await call.publishMedia(PNG, 'image/png'));
      return { upstreamId: 'up_1', upstreamStatus: 'queued', status: 'running' };
    },
  });
  return { adapter, published };
}

const createImageToVideo = (t: FakeApp) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/image-to-video',
    headers: auth(),
    payload: { model: 'fake', image: 'https://example.com/cat.png', prompt: 'the cat waves' },
  });

const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);

describe('media hosting for publishMedia (PUBLIC_URL set, sqlite store)', () => {
  let dir: string;
  let dbFile: string;
  let t: FakeApp | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'genway-media-'));
    dbFile = join(dir, 'genway.db');
  });
  afterEach(async () => {
    vi.useRealTimers();
    await t?.close();
    t = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const start = async (adapter: FakeAdapter, env: Record<string, string> = {}) => {
    t = await buildFakeApp(adapter, {
      env: { PUBLIC_URL, STORE_URL: `sqlite:${dbFile}`, ...env },
    });
    return t;
  };

  it('hands the adapter a PUBLIC_URL link that serves the bytes with their type, without a key', async () => {
    const { adapter, published } = publishingAdapter();
    const app = await start(adapter);
    expect((await createImageToVideo(app)).statusCode).toBe(201);
    expect(published).toHaveLength(1);
    const url = published[0]!;
    expect(url).toMatch(/^https:\/\/genway\.example\.com\/media\/[A-Za-z0-9_-]{43}$/);

    const res = await app.app.inject({ method: 'GET', url: new URL(url).pathname });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-length']).toBe(String(PNG.length));
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.rawPayload.equals(PNG)).toBe(true);

    // The token is a credential: the request log shows the route, never the token.
    const logged = app.logs.join('\n');
    expect(logged).toContain('/media/:token');
    expect(logged).not.toContain(tokenOf(url));
  });

  it('gives every publish its own unguessable token', async () => {
    const { adapter, published } = publishingAdapter();
    const app = await start(adapter);
    await createImageToVideo(app);
    await createImageToVideo(app);
    expect(new Set(published.map(tokenOf)).size).toBe(2);
  });

  it('answers 404 problem+json for an unknown or malformed token', async () => {
    const app = await start(new FakeAdapter());
    for (const token of ['A'.repeat(43), 'not-a-token', 'x'.repeat(64)]) {
      const res = await app.app.inject({ method: 'GET', url: `/media/${token}` });
      expect(res.statusCode, token).toBe(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'not_found' });
    }
  });

  it('answers 404 once the link has expired, and purges the bytes', async () => {
    const { adapter, published } = publishingAdapter();
    const app = await start(adapter);
    await createImageToVideo(app);
    const url = published[0]!;
    const path = new URL(url).pathname;
    expect((await app.app.inject({ method: 'GET', url: path })).statusCode).toBe(200);

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + MEDIA_TTL_MS + 1000);
    expect((await app.app.inject({ method: 'GET', url: path })).statusCode).toBe(404);

    // The next publish purges what has expired.
    await createImageToVideo(app);
    const store = new SqliteTaskStore(dbFile);
    try {
      expect(await store.getMedia(mediaIdOf(tokenOf(url)))).toBeUndefined();
      expect(await store.getMedia(mediaIdOf(tokenOf(published[1]!)))).toBeDefined();
    } finally {
      await store.close();
    }
  });

  it('survives a restart on the same sqlite file', async () => {
    const { adapter, published } = publishingAdapter();
    const first = await start(adapter);
    await createImageToVideo(first);
    await first.close();
    t = undefined;

    const second = await start(new FakeAdapter());
    const res = await second.app.inject({ method: 'GET', url: new URL(published[0]!).pathname });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.rawPayload.equals(PNG)).toBe(true);
  });

  it('offers no publishMedia without PUBLIC_URL', async () => {
    const adapter = new FakeAdapter({
      onStart: () => ({ upstreamId: 'up_1', upstreamStatus: 'queued', status: 'running' }),
    });
    t = await buildFakeApp(adapter);
    await createImageToVideo(t);
    expect(adapter.starts).toHaveLength(1);
    expect(adapter.starts[0]!.publishMedia).toBeUndefined();
  });
});

describe('MediaHost', () => {
  it('refuses files over the cap with 413 payload_too_large', async () => {
    const host = new MediaHost({ store: new MemoryTaskStore(), publicUrl: PUBLIC_URL });
    await expect(
      host.publish(Buffer.alloc(MEDIA_MAX_BYTES + 1), 'image/png', 'tenant-a'),
    ).rejects.toMatchObject({ code: 'payload_too_large', status: 413 });
  });

  it('stores only a hash of the token and serves an odd content type as octet-stream', async () => {
    const store = new MemoryTaskStore();
    let now = 1_000_000;
    const host = new MediaHost({ store, publicUrl: PUBLIC_URL, ttlMs: 1000, now: () => now });
    const url = await host.publish(
      Buffer.from('hi'),
      'text/html; charset=utf-8<script>',
      'tenant-a',
    );
    const token = tokenOf(url);
    const stored = await store.getMedia(mediaIdOf(token));
    expect(stored?.id).not.toContain(token);
    expect(stored?.contentType).toBe('application/octet-stream');
    expect((await host.read(token))?.bytes.toString()).toBe('hi');
    now += 1000;
    expect(await host.read(token)).toBeUndefined();
    expect(await host.purge()).toBe(1);
    expect(await store.getMedia(mediaIdOf(token))).toBeUndefined();
  });
});
