import Replicate from 'replicate';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_A, KEY_B, auth } from '../helpers/test-app.js';
import {
  LAYOUTS,
  PNG_SIGNATURE,
  SD,
  SD_REF,
  callsTo,
  startReplicateSuite,
  type ReplicateSuite,
  type ReplicateSuiteOptions,
} from './harness.js';

/**
 * `/replicate/v1/files` with the official client (architecture §6): uploads in Replicate's
 * shapes, tenant-scoped; a prediction with a Buffer input (uploaded to /files by the client,
 * then passed as `urls.get`) reaches the upstream as something it can fetch, in both layouts.
 */

let suite: ReplicateSuite | undefined;
afterEach(async () => {
  await suite?.close();
  suite = undefined;
});

const IMAGE = Buffer.concat([PNG_SIGNATURE, Buffer.from('not really a png, but bytes')]);

async function start(prefix: string, opts: ReplicateSuiteOptions = {}) {
  suite = await startReplicateSuite({ prefix, ...opts });
  const address = await suite.app.listen({ port: 0, host: '127.0.0.1' });
  const client = (key: string) =>
    new Replicate({ auth: key, baseUrl: `${address}/replicate/v1`, useFileOutput: false });
  return { s: suite, base: `${address}/replicate/v1`, a: client(KEY_A), b: client(KEY_B) };
}

/** The `input.image` the upstream got in its last create. */
function sentImage(s: ReplicateSuite): string {
  const create = callsTo(s.emu, 'POST', /\/predictions$/).at(-1);
  return (create?.body as { input: { image: string } }).input.image;
}

describe.each(LAYOUTS)('replicate files (emulator at %s)', (prefix) => {
  it('a prediction with a Buffer input succeeds: the upstream gets the bytes inline', async () => {
    const { s, a } = await start(prefix);
    const output = (await a.run(SD_REF, { input: { prompt: 'x', image: IMAGE } })) as string[];
    expect(output).toHaveLength(1);
    // The client uploaded the Buffer first; genway had no PUBLIC_URL, so a data: URI went on.
    const image = sentImage(s);
    expect(image.startsWith('data:application/octet-stream;base64,')).toBe(true);
    expect(Buffer.from(image.split(',')[1]!, 'base64')).toEqual(IMAGE);
    expect(s.leaks()).toEqual([]);
  });

  it('with PUBLIC_URL the upstream gets an expiring public link serving the bytes', async () => {
    const { s, a } = await start(prefix, {
      app: { env: { PUBLIC_URL: 'https://gw.example' } },
    });
    const output = (await a.run(SD_REF, { input: { prompt: 'x', image: IMAGE } })) as string[];
    expect(output).toHaveLength(1);
    const link = sentImage(s);
    expect(link).toMatch(/^https:\/\/gw\.example\/media\/[A-Za-z0-9_-]{43}$/);
    const served = await s.inject({ method: 'GET', url: new URL(link).pathname });
    expect(served.statusCode).toBe(200);
    expect(served.rawPayload).toEqual(IMAGE);
  });

  it('files create/get/list/delete in Replicate shapes; tenant B sees none of A’s', async () => {
    const { s, a, b, base } = await start(prefix);
    const file = await a.files.create(IMAGE, { purpose: 'test', n: 1 });
    expect(file).toMatchObject({
      id: expect.stringMatching(/^file_[0-9A-Z]{26}$/),
      content_type: 'application/octet-stream',
      size: IMAGE.length,
      metadata: { purpose: 'test', n: 1 },
      urls: { get: `${base}/files/${file.id}` },
    });
    expect(file.checksums.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(file.expires_at!)).toBeGreaterThan(Date.now());
    expect(await a.files.get(file.id)).toEqual(file);
    const second = await a.files.create(new Blob([Buffer.from('hello')], { type: 'text/plain' }));
    expect(second.content_type).toBe('text/plain');
    expect((await a.files.list()).results.map((f) => f.id)).toEqual([second.id, file.id]);

    // Tenant B: 404 on A's file, an empty list, and A's link is no input of B's.
    await expect(b.files.get(file.id)).rejects.toMatchObject({ response: { status: 404 } });
    await expect(b.files.delete(file.id)).rejects.toMatchObject({ response: { status: 404 } });
    expect((await b.files.list()).results).toEqual([]);
    const creates = callsTo(s.emu, 'POST', /\/predictions$/).length;
    await expect(
      b.predictions.create({ version: SD, input: { prompt: 'x', image: file.urls.get } }),
    ).rejects.toMatchObject({ response: { status: 422 } });
    expect(callsTo(s.emu, 'POST', /\/predictions$/)).toHaveLength(creates);

    expect(await a.files.delete(file.id)).toBe(true);
    await expect(a.files.get(file.id)).rejects.toMatchObject({ response: { status: 404 } });
    expect((await a.files.list()).results.map((f) => f.id)).toEqual([second.id]);
  });

  it('refuses what is not an upload: no content, JSON, bad metadata, over the cap', async () => {
    const { s } = await start(prefix);
    const post = (payload: string | Buffer, type: string) =>
      s.inject({
        method: 'POST',
        url: '/replicate/v1/files',
        headers: { ...auth(KEY_A), 'content-type': type },
        payload,
      });
    const form = (parts: string) =>
      post(parts.replaceAll('\n', '\r\n'), 'multipart/form-data; boundary=XX');
    const noContent = await form(
      '--XX\nContent-Disposition: form-data; name="filename"\n\na.txt\n--XX--\n',
    );
    expect(noContent.statusCode).toBe(422);
    expect(noContent.json()).toMatchObject({ invalid_fields: [{ field: 'content' }] });
    const json = await post('{"content":"x"}', 'application/json');
    expect(json.statusCode).toBe(415);
    const badMeta = await form(
      '--XX\nContent-Disposition: form-data; name="content"; filename="a.txt"\nContent-Type: text/plain\n\nhi\n--XX\nContent-Disposition: form-data; name="metadata"\n\n[1]\n--XX--\n',
    );
    expect(badMeta.statusCode).toBe(422);
    const big = Buffer.concat([
      Buffer.from('--XX\r\nContent-Disposition: form-data; name="content"; filename="big"\r\n\r\n'),
      Buffer.alloc(20 * 1024 * 1024 + 10, 1),
      Buffer.from('\r\n--XX--\r\n'),
    ]);
    const tooBig = await post(big, 'multipart/form-data; boundary=XX');
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json()).toMatchObject({ status: 413 });
  });
});
