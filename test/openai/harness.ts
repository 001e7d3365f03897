import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import type { ProvidersConfig } from '../../src/config/config.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import {
  startPixverseEmulator,
  type PixverseEmulator,
} from '../../src/emulators/pixverse/server.js';
import { KEY_A, KEY_B, buildTestApp, findSecrets, type TestApp } from '../helpers/test-app.js';

export const ML_KEY = 'ml-openai-suite-key-4c1d9e7a2b5f8c3e';
export const PX_KEY = 'px-openai-suite-key-7e2a5c9d1b4f6a8e';
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
export const isMp4 = (body: Buffer) => body.subarray(4, 8).toString('ascii') === 'ftyp';

export type Json = Record<string, unknown>;

export interface OpenAISuite {
  t: TestApp;
  ml: ModelslabEmulator;
  px: PixverseEmulator;
  /** genway's origin, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** `<genway>/openai/v1`. */
  base: string;
  /** The official client as tenant A (or another key), never retrying by itself. */
  client(key?: string, maxRetries?: number): OpenAI;
  /** A raw request to `<base><path>` with tenant A's key unless `headers` says otherwise. */
  raw(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  /** Every secret the suite knows (gateway keys, upstream keys). */
  leaks(extra?: string[]): string[];
  close(): Promise<void>;
}

/**
 * genway listening on a loopback port (the official client needs a real socket) with
 * ModelsLab (text-to-image, text-to-video) and PixVerse (image-to-video) on emulators.
 */
export async function startOpenAISuite(env: Record<string, string> = {}): Promise<OpenAISuite> {
  const ml = await startModelslabEmulator({ apiKeys: [ML_KEY] });
  const px = await startPixverseEmulator({ apiKeys: [PX_KEY], pollsUntilDone: 1 });
  const providers: ProvidersConfig = {
    modelslab: {
      baseUrl: ml.url,
      credentials: [{ id: 'modelslab-1', secret: ML_KEY }],
      emulated: false,
      loadBalancer: true,
      videoPath: '/api/v1/enterprise/video/text2video',
    },
    pixverse: {
      baseUrl: px.baseUrl,
      credentials: [{ id: 'pixverse-1', secret: PX_KEY }],
      emulated: false,
    },
  };
  const t = await buildTestApp({ providers, env });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const base = `${url}/openai/v1`;
  const captured: string[] = [];
  return {
    t,
    ml,
    px,
    url,
    base,
    client: (key = KEY_A, maxRetries = 0) => new OpenAI({ apiKey: key, baseURL: base, maxRetries }),
    async raw(path, init = {}) {
      const { key = KEY_A, headers, ...rest } = init;
      const res = await fetch(`${base}${path}`, {
        ...rest,
        headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
      });
      captured.push(JSON.stringify([...res.headers]));
      return res;
    },
    leaks: (extra = []) =>
      findSecrets([...t.logs, ...captured, ...extra], [ML_KEY, PX_KEY, KEY_A, KEY_B]),
    async close() {
      await t.close();
      await Promise.all([ml.close(), px.close()]);
    },
  };
}

/** Retrieves a video through the SDK until it is completed or failed. */
export async function retrieveUntilDone(
  client: OpenAI,
  id: string,
  timeoutMs = 10_000,
): Promise<OpenAI.Videos.Video> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const video = await client.videos.retrieve(id);
    if (video.status === 'completed' || video.status === 'failed') return video;
    if (Date.now() > deadline) throw new Error(`video ${id} still ${video.status}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export type APIError = InstanceType<typeof OpenAI.APIError>;

/** The APIError a client call fails with; throws when it succeeds or fails otherwise. */
export async function apiErrorOf(call: PromiseLike<unknown>): Promise<APIError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error('expected the call to fail with an APIError');
}
