import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHaiperEmulator, type HaiperEmulator } from '../../src/emulators/haiper/server.js';
import type { HaiperSettings } from '../../src/providers/haiper/index.js';
import { KEY_A, KEY_B, auth, buildTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Issue 12 item 8: files genway publishes for an upstream (a data: image Haiper can only take
 * as a URL) count against a byte quota per tenant and in all. A tenant past its own quota gets
 * a 429 problem, nothing reaches the upstream, and another tenant still publishes.
 */

const ACCESS_KEY = 'haiper-media-quota-key-0123456789';
const FILE_BYTES = 120_000;
/** A PNG header and zeros: what genway checks of the file is its signature. */
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(FILE_BYTES - 8),
]);

describe('published media byte quota', () => {
  let emu: HaiperEmulator;
  let t: TestApp;

  beforeAll(async () => {
    emu = await startHaiperEmulator({ accessKeys: [ACCESS_KEY] });
    const haiper: HaiperSettings = {
      baseUrl: emu.basePath,
      endpointPath: emu.endpointPath,
      credentials: [{ id: 'haiper-1', secret: ACCESS_KEY }],
      emulated: false,
    };
    t = await buildTestApp({
      providers: { haiper },
      env: {
        PUBLIC_URL: 'https://genway.test',
        // Two files per tenant, five in all.
        MEDIA_PUBLISH_TENANT_QUOTA_BYTES: String(2 * FILE_BYTES + 1000),
        MEDIA_PUBLISH_QUOTA_BYTES: String(5 * FILE_BYTES),
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await emu?.close();
  });

  const animate = (key: string) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/image-to-video',
      headers: auth(key),
      payload: {
        model: 'haiper',
        image: `data:image/png;base64,${png.toString('base64')}`,
        prompt: 'the picture moves',
      },
    });

  it("a tenant past its quota gets a 429 problem; the other tenant's files still go out", async () => {
    for (let i = 0; i < 2; i++) expect((await animate(KEY_A)).statusCode).toBe(201);
    const creates = emu.creates;

    const refused = await animate(KEY_A);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.json()).toMatchObject({
      code: 'rate_limited',
      status: 429,
      detail: expect.stringMatching(/published files take \d+ of \d+ bytes/i) as unknown,
    });
    expect(emu.creates).toBe(creates);

    const other = await animate(KEY_B);
    expect(other.statusCode).toBe(201);
    expect(emu.creates).toBe(creates + 1);
    // The credential was not blamed for the refusal: it keeps serving tenant A without files.
    const text = await t.app.inject({
      method: 'POST',
      url: '/v1/text-to-video',
      headers: auth(KEY_A),
      payload: { model: 'haiper', prompt: 'waves' },
    });
    expect(text.statusCode).toBe(201);
  });

  it('the published file is served to the upstream under PUBLIC_URL', async () => {
    const res = await animate(KEY_B);
    expect(res.statusCode).toBe(201);
    const sent = JSON.stringify(emu.calls.map((c) => c.body));
    const links = [...sent.matchAll(/https:\/\/genway\.test(\/media\/[A-Za-z0-9_-]{43})/g)];
    const link = links.at(-1)?.[1];
    expect(link).toBeDefined();
    const file = await t.app.inject({ method: 'GET', url: link! });
    expect(file.statusCode).toBe(200);
    expect(file.rawPayload.length).toBe(FILE_BYTES);
  });
});
