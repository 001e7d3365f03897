import type { buildConnector } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHaiperEmulator, type HaiperEmulator } from '../../src/emulators/haiper/server.js';
import {
  startPixverseEmulator,
  type PixverseEmulator,
} from '../../src/emulators/pixverse/server.js';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
} from '../../src/emulators/replicate/server.js';
import { createOutbound, type Resolver } from '../../src/net/outbound.js';
import { auth, buildTestApp, findSecrets, type TestApp } from '../helpers/test-app.js';

/**
 * Caller URLs handed to an upstream that fetches them itself (`image`, `video`, URLs in a raw
 * Replicate input) follow genway's outbound address rules: a refused address is a 400 naming
 * the field at create, before any upstream call and without a task. genway never connects to
 * any of them: the outbound connector of this app fails the test if it is ever used.
 */

type Json = Record<string, unknown>;
const HAIPER_KEY = 'haiper-urls-access-key-0123456789';
const PIXVERSE_KEY = 'pixverse-urls-api-key-0123456789';
const R8_TOKEN = 'r8_urls_upstream_token_0123456789';
const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';

/** Names these tests use, and what they resolve to. */
const DNS: Record<string, string[]> = {
  'cdn.example.com': ['93.184.215.14'],
  'intranet.corp.test': ['10.20.30.40'],
  'partner.corp.test': ['10.99.0.5'],
  'mixed.example.net': ['93.184.215.14', '192.168.1.9'],
  'rebind.example.net': ['127.0.0.1'],
};
const resolve: Resolver = async (host) => {
  const found = DNS[host];
  if (!found) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return found.map((address) => ({ address, family: 4 as const }));
};

let haiper: HaiperEmulator;
let pixverse: PixverseEmulator;
let replicate: ReplicateEmulator;
let t: TestApp;
const connects: string[] = [];
const seen: string[] = [];

beforeAll(async () => {
  haiper = await startHaiperEmulator({ accessKeys: [HAIPER_KEY] });
  pixverse = await startPixverseEmulator({ apiKeys: [PIXVERSE_KEY] });
  replicate = await startReplicateEmulator({ tokens: [R8_TOKEN], timeScale: 0.01 });
  const outbound = createOutbound({
    // The operator allow-listed one private host by name (not the address it resolves to).
    allowlist: ['partner.corp.test'],
    resolve,
    connector: (_options, addresses) => {
      connects.push(...addresses);
      return ((_opts, callback) =>
        callback(new Error('this test opens no connection'), null)) as buildConnector.connector;
    },
  });
  t = await buildTestApp({
    outbound,
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
      replicate: {
        baseUrl: replicate.baseUrl,
        credentials: [{ id: 'replicate-1', secret: R8_TOKEN }],
        emulated: false,
        models: [],
      },
    },
  });
});
afterAll(async () => {
  expect(connects).toEqual([]);
  expect(findSecrets([...seen, ...t.logs], [HAIPER_KEY, PIXVERSE_KEY, R8_TOKEN])).toEqual([]);
  await t.close();
  await Promise.all([haiper.close(), pixverse.close(), replicate.close()]);
});

async function post(url: string, payload: Json) {
  const res = await t.app.inject({ method: 'POST', url, headers: auth(), payload });
  seen.push(res.body);
  return res;
}

const upstreamCalls = () => haiper.calls.length + pixverse.calls.length + replicate.calls.length;

async function taskCount(): Promise<number> {
  const res = await t.app.inject({ method: 'GET', url: '/v1/tasks?limit=100', headers: auth() });
  return (res.json<Json>().data as Json[]).length;
}

/** A refused create: 400 naming `field`, nothing sent upstream and no task stored. */
async function expectRefused(url: string, payload: Json, field: string, reason: RegExp) {
  const [calls, tasks] = [upstreamCalls(), await taskCount()];
  const res = await post(url, payload);
  expect(res.statusCode, res.body).toBe(400);
  const errors = res.json<Json>().errors as Json[];
  expect(errors).toEqual([expect.objectContaining({ path: field })]);
  expect(String(errors[0]!.message)).toMatch(reason);
  expect(upstreamCalls()).toBe(calls);
  expect(await taskCount()).toBe(tasks);
}

const i2v = (model: string, image: string) =>
  post('/v1/image-to-video', { model, image, prompt: 'the cat turns its head' });

describe('image and video URLs on /v1 creates', () => {
  it.each([
    ['loopback', 'https://127.0.0.1/cat.png', /loopback/],
    ['loopback by a numeric shorthand', 'https://2130706433/cat.png', /loopback/],
    ['loopback in hex', 'https://0x7f.1/cat.png', /loopback/],
    ['a mapped IPv6 loopback', 'https://[::ffff:127.0.0.1]/cat.png', /loopback/],
    ['IPv6 loopback', 'https://[::1]/cat.png', /loopback/],
    ['a private address', 'https://10.0.0.7/cat.png', /private/],
    ['a link-local address', 'https://169.254.10.10/cat.png', /link-local/],
    ['the metadata address', 'https://169.254.169.254/latest/meta-data', /metadata/],
    ['a name resolving privately', 'https://intranet.corp.test/cat.png', /private/],
    ['a name with one private address', 'https://mixed.example.net/cat.png', /private/],
    ['a name that does not resolve', 'https://nowhere.invalid/cat.png', /could not be resolved/],
  ])('%s: 400 naming image, before any upstream call', async (_name, image, reason) => {
    await expectRefused(
      '/v1/image-to-video',
      { model: 'pixverse/v5', image, prompt: 'the cat turns its head' },
      'image',
      reason,
    );
  });

  it('the same rules for a source video Haiper fetches, http:// included', async () => {
    await expectRefused(
      '/v1/video-upscale',
      { model: 'haiper', video: 'http://rebind.example.net/clip.mp4' },
      'video',
      /loopback/,
    );
    await expectRefused(
      '/v1/video-extend',
      { model: 'haiper', video: 'http://169.254.169.254/clip.mp4', duration: 2 },
      'video',
      /metadata/,
    );
  });

  it('http:// only where the upstream documents it: Haiper yes, PixVerse and Replicate no', async () => {
    const haiperCreates = haiper.creates;
    const ok = await i2v('haiper', 'http://cdn.example.com/cat.png');
    expect(ok.statusCode, ok.body).toBe(201);
    expect(haiper.creates).toBe(haiperCreates + 1);
    const body = haiper.calls.filter((c) => c.method === 'POST').at(-1)?.body as Json;
    expect(body.config).toEqual({ sourceImage: 'http://cdn.example.com/cat.png' });

    await expectRefused(
      '/v1/image-to-video',
      { model: 'pixverse/v5', image: 'http://cdn.example.com/cat.png', prompt: 'x' },
      'image',
      /pixverse needs an https:\/\/ URL/,
    );
    await expectRefused(
      '/v1/image-to-video',
      { model: 'replicate/minimax/video-01', image: 'http://cdn.example.com/cat.png', prompt: 'x' },
      'image',
      /replicate needs an https:\/\/ URL/,
    );
  });

  it('a public https URL and an allow-listed private host go through; data: URLs are not URLs', async () => {
    for (const image of [
      'https://cdn.example.com/cat.png',
      'https://partner.corp.test/cat.png',
      `data:image/png;base64,${Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4a40000000049454e44ae426082', 'hex').toString('base64')}`,
    ]) {
      const res = await i2v('pixverse/v5', image);
      expect(res.statusCode, res.body).toBe(201);
    }
  });
});

describe('URLs in a raw Replicate input (/replicate/v1) and in an OpenAI input_reference', () => {
  it('a private URL anywhere in input is a 422 naming it, in Replicate shape; nothing sent', async () => {
    const creates = replicate.creates;
    const res = await post('/replicate/v1/predictions', {
      version: SD,
      input: {
        prompt: 'a lighthouse',
        image: 'https://cdn.example.com/fine.png',
        mask: 'https://169.254.169.254/latest/meta-data/iam',
        refs: ['https://intranet.corp.test/a.png'],
      },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json<Json>()).toMatchObject({
      title: 'Input validation failed',
      status: 422,
      invalid_fields: [
        expect.objectContaining({ field: 'input.mask' }),
        expect.objectContaining({ field: 'input.refs.0' }),
      ],
    });
    expect(replicate.creates).toBe(creates);

    const ok = await post('/replicate/v1/predictions', {
      version: SD,
      input: { prompt: 'a lighthouse', image: 'https://cdn.example.com/fine.png' },
    });
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it('an input_reference image_url at a private address is a 400 naming input_reference', async () => {
    const calls = upstreamCalls();
    const res = await post('/openai/v1/videos', {
      model: 'pixverse/v5',
      prompt: 'x',
      input_reference: { image_url: 'https://10.1.1.1/first-frame.png' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<Json>()).toMatchObject({
      error: { type: 'invalid_request_error', param: 'input_reference', code: 'invalid_request' },
    });
    expect(upstreamCalls()).toBe(calls);
  });
});
