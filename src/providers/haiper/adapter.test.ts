import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Credential } from '../../config/config.js';
import type { StartCall } from '../../domain/ports.js';
import { startHaiperEmulator, type HaiperEmulator } from '../../emulators/haiper/server.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { UpstreamClient } from '../http-client.js';
import { HaiperAdapter } from './adapter.js';

const KEY = 'haiper-unit-access-key-123';
const credential: Credential = { id: 'haiper-1', secret: KEY };
/** The PNG signature plus a few bytes: enough for the data: URL sniffing. */
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const PNG_DATA_URL = `data:image/png;base64,${PNG.toString('base64')}`;

describe('HaiperAdapter (against the emulator)', () => {
  let emu: HaiperEmulator;
  let adapter: HaiperAdapter;

  beforeAll(async () => {
    emu = await startHaiperEmulator({ accessKeys: [KEY], endpointPath: 'LPUqHEAjfonOmohV' });
    adapter = new HaiperAdapter(
      {
        baseUrl: `${emu.basePath}/`,
        endpointPath: emu.endpointPath,
        credentials: [credential],
        emulated: false,
      },
      new UpstreamClient({ provider: 'haiper', timeoutMs: 30_000 }),
    );
  });
  afterAll(async () => {
    await adapter.close();
    await emu.close();
  });
  beforeEach(() => emu.reset());

  const i2v = (image: string, extra: Partial<StartCall> = {}): StartCall => ({
    operation: 'image-to-video',
    model: 'haiper-video-2',
    input: { prompt: 'the cat turns', image },
    credential,
    ...extra,
  });

  it('publishes a data: image through publishMedia and sends that URL', async () => {
    const published: { bytes: Buffer; contentType: string }[] = [];
    const publishMedia = async (bytes: Buffer, contentType: string) => {
      published.push({ bytes, contentType });
      return 'https://genway.example.com/media/abc123.png';
    };
    const snapshot = await adapter.start(i2v(PNG_DATA_URL, { publishMedia }));
    expect(snapshot).toMatchObject({ status: 'queued', upstreamStatus: 'PENDING' });
    expect(snapshot.upstreamId).toMatch(/^[0-9a-f]+$/);
    expect(published).toHaveLength(1);
    expect(published[0]?.contentType).toBe('image/png');
    expect(published[0]?.bytes.equals(PNG)).toBe(true);
    expect(emu.calls).toHaveLength(1);
    expect(emu.calls[0]?.path).toBe('/v1/ai/LPUqHEAjfonOmohV/video/generate');
    expect(emu.calls[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(emu.calls[0]?.body).toEqual({
      prompt: 'the cat turns',
      config: { sourceImage: 'https://genway.example.com/media/abc123.png' },
    });
  });

  it('refuses a data: image without publishMedia (no PUBLIC_URL), before any upstream call', async () => {
    const err = await adapter.start(i2v(PNG_DATA_URL)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    const gw = err as GatewayError;
    expect(gw.code).toBe('invalid_request');
    expect(gw.status).toBe(400);
    expect(gw.errors?.[0]?.path).toBe('image');
    expect(gw.errors?.[0]?.message).toMatch(/public image URL.*PUBLIC_URL/);
    expect(emu.calls).toHaveLength(0);
  });

  it('checks the data: URL bytes before publishing', async () => {
    let published = 0;
    const publishMedia = async () => {
      published++;
      return 'https://genway.example.com/media/x.png';
    };
    const fake = `data:image/png;base64,${Buffer.from('not a png at all').toString('base64')}`;
    const err = (await adapter
      .start(i2v(fake, { publishMedia }))
      .catch((e: unknown) => e)) as GatewayError;
    expect(err.code).toBe('invalid_request');
    expect(err.errors?.[0]?.path).toBe('image');
    const gif = `data:image/gif;base64,${Buffer.from('GIF89a....').toString('base64')}`;
    const err2 = (await adapter
      .start(i2v(gif, { publishMedia }))
      .catch((e: unknown) => e)) as GatewayError;
    expect(err2.code).toBe('invalid_request');
    expect(published).toBe(0);
    expect(emu.calls).toHaveLength(0);
  });

  it('passes an https image URL through unchanged', async () => {
    await adapter.start(i2v('https://images.example.com/cat.jpg'));
    expect(emu.calls[0]?.body).toEqual({
      prompt: 'the cat turns',
      config: { sourceImage: 'https://images.example.com/cat.jpg' },
    });
  });

  it('refuses a video that is not a URL (unresolved reference) without calling Haiper', async () => {
    const err = (await adapter
      .start({
        operation: 'video-upscale',
        model: 'haiper-video-2',
        input: { video: 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B' },
        credential,
      })
      .catch((e: unknown) => e)) as GatewayError;
    expect(err.code).toBe('invalid_request');
    expect(err.errors?.[0]?.path).toBe('video');
    expect(emu.calls).toHaveLength(0);
  });

  it('polls a task to SUCCESS with the media URL and expiry', async () => {
    const started = await adapter.start({
      operation: 'video-upscale',
      model: 'haiper-video-2',
      input: { video: 'https://cdn.example.com/v.mp4' },
      credential,
    });
    const id = started.upstreamId ?? '';
    const poll = () =>
      adapter.poll({
        operation: 'video-upscale',
        model: 'haiper-video-2',
        credential,
        upstreamId: id,
        state: {},
      });
    const seen = [await poll(), await poll(), await poll(), await poll()];
    expect(seen.map((s) => s.status)).toEqual(['queued', 'running', 'running', 'succeeded']);
    expect(seen[1]?.progress).toBeLessThan(seen[2]?.progress ?? 0);
    const out = seen[3]?.outputs?.[0];
    expect(out?.url.startsWith(emu.url)).toBe(true);
    expect(out?.contentType).toBe('video/mp4');
    expect(out?.expiresAt).toBeGreaterThan(Date.now());
    expect(emu.calls.at(-1)?.path).toBe(`/v1/ai/LPUqHEAjfonOmohV/video/tasks/${id}`);
  });

  it('maps a wrong key to upstream_auth_failed without echoing it', async () => {
    const err = (await adapter
      .start({
        operation: 'text-to-video',
        model: 'haiper-video-2',
        input: { prompt: 'x' },
        credential: { id: 'bad', secret: 'wrong-key-xyz' },
      })
      .catch((e: unknown) => e)) as GatewayError;
    expect(err.code).toBe('upstream_auth_failed');
    expect(err.message).not.toContain('wrong-key-xyz');
  });
});
