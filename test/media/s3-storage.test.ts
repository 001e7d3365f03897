import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types: a real S3-protocol server in Node, on loopback for this test.
// @ts-expect-error -- untyped package
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth } from '../helpers/test-app.js';
import { R8_TOKEN, startReplicateSuite, type ReplicateSuite } from '../replicate/harness.js';
import { WEBHOOK_SECRET, startReceiver, type Receiver } from '../webhooks/receiver.js';
import { createAndFinish, pathOf, sha256, type Json } from './helpers.js';

const BUCKET = 'genway-media';
const DATA_RETENTION_MS = 600;

describe('media storage on S3 (s3rver on 127.0.0.1) with Replicate, which removes its data', () => {
  let s3: { run(): Promise<{ port: number }>; close(): Promise<void> };
  let dir: string;
  let endpoint: string;
  let suite: ReplicateSuite;
  let rx: Receiver;
  let client: S3Client;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'genway-s3rver-'));
    s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
    const { port } = await s3.run();
    endpoint = `http://127.0.0.1:${port}`;
    // The standard AWS variables, read by the SDK's default credential chain.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    rx = await startReceiver();
    suite = await startReplicateSuite({
      emulator: { dataRetentionMs: DATA_RETENTION_MS },
      app: {
        env: {
          MEDIA_STORE_URL: `s3://${BUCKET}/outputs`,
          S3_ENDPOINT: endpoint,
          S3_FORCE_PATH_STYLE: 'true',
          WEBHOOK_SECRET,
          OUTBOUND_ALLOWLIST: '127.0.0.1',
          PUBLIC_URL: 'https://genway.test',
        },
        webhooks: { scheduleMs: [50, 100], attemptTimeoutMs: 1000, idleMs: 50 },
      },
    });
  });
  afterAll(async () => {
    await suite?.close();
    await rx?.close();
    client?.destroy();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
    process.env = savedEnv;
  });

  it('stores the outputs in the bucket; the task, SSE, the webhook and the Replicate surface carry genway links that outlive data_removed', async () => {
    const task = await createAndFinish(suite.app, '/v1/text-to-image', {
      model: 'replicate/black-forest-labs/flux-schnell',
      prompt: 'a paper boat',
      webhook: { url: `${rx.url}/hook` },
    });
    const out = task.outputs[0]!;
    expect(out).toMatchObject({ stored: true, content_type: 'image/png' });
    const head = await client.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: `outputs/tasks/${task.id}/0` }),
    );
    expect(head.ContentLength).toBe(out.bytes);

    // The webhook body carries the stored outputs, with a signed genway link.
    const [hook] = await rx.waitFor(1, 10_000);
    const body = JSON.parse(hook!.body) as {
      status: string;
      outputs: { url: string; sha256: string }[];
    };
    expect(body.status).toBe('succeeded');
    expect(body.outputs[0]!.url).toMatch(/^https:\/\/genway\.test\/media\/tasks\//);
    expect(body.outputs[0]!.sha256).toBe(out.sha256);

    // SSE: the final event has the stored outputs too.
    const sse = await suite.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id}/events`,
      headers: auth(),
    });
    const data = sse.body
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .at(-1)!;
    const event = JSON.parse(data.slice(6)) as { outputs: { url: string; sha256: string }[] };
    expect(event.outputs[0]!.url).toMatch(/^https:\/\/genway\.test\/media\/tasks\//);
    expect(event.outputs[0]!.sha256).toBe(out.sha256);

    // Replicate removes the data; then the emulator goes away entirely.
    await new Promise((resolve) => setTimeout(resolve, DATA_RETENTION_MS + 200));
    const upstreamId = (task.upstream as Json).id as string;
    const upstream = await fetch(`${suite.emu.baseUrl}/predictions/${upstreamId}`, {
      headers: { authorization: `Bearer ${R8_TOKEN}` },
    });
    expect(await upstream.json()).toMatchObject({ output: null, data_removed: true });

    const viaKey = await suite.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id}/outputs/0`,
      headers: auth(),
    });
    expect(viaKey.statusCode).toBe(200);
    const again = (
      await suite.app.inject({ method: 'GET', url: `/v1/tasks/${task.id}`, headers: auth() })
    ).json() as {
      outputs: { url: string }[];
    };
    const viaLink = await suite.app.inject({ method: 'GET', url: pathOf(again.outputs[0]!.url) });
    expect(viaLink.statusCode).toBe(200);
    expect(viaLink.headers['content-type']).toBe('image/png');
    expect(viaLink.rawPayload.equals(viaKey.rawPayload)).toBe(true);
    expect(sha256(viaLink.rawPayload)).toBe(out.sha256);
    expect(viaLink.rawPayload.length).toBe(out.bytes);
    const ranged = await suite.app.inject({
      method: 'GET',
      url: pathOf(again.outputs[0]!.url),
      headers: { range: 'bytes=-10' },
    });
    expect(ranged.statusCode).toBe(206);
    expect(ranged.rawPayload.equals(viaLink.rawPayload.subarray(-10))).toBe(true);

    // The Replicate surface answers with the same kind of link.
    const prediction = (
      await suite.app.inject({
        method: 'GET',
        url: `/replicate/v1/predictions/${task.id}`,
        headers: auth(),
      })
    ).json() as { output: string[] | string | null };
    const first = Array.isArray(prediction.output) ? prediction.output[0] : prediction.output;
    expect(first).toMatch(/^https:\/\/genway\.test\/media\/tasks\//);

    // A tampered link: 403.
    const bad = again.outputs[0]!.url.replace('/0?', '/1?');
    expect((await suite.app.inject({ method: 'GET', url: pathOf(bad) })).statusCode).toBe(403);

    // DELETE removes the object from the bucket.
    const del = await suite.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${task.id}`,
      headers: auth(),
    });
    expect(del.statusCode).toBe(200);
    await expect(
      client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `outputs/tasks/${task.id}/0` })),
    ).rejects.toMatchObject({ name: 'NotFound' });
    expect(
      (await suite.app.inject({ method: 'GET', url: pathOf(again.outputs[0]!.url) })).statusCode,
    ).toBe(410);
  });

  it('retention deletes old objects from the bucket', async () => {
    const task = await createAndFinish(suite.app, '/v1/text-to-image', {
      model: 'replicate/black-forest-labs/flux-schnell',
      prompt: 'a kite',
    });
    const { S3MediaStore } = await import('../../src/media/s3-media-store.js');
    const { purgeExpiredMedia } = await import('../../src/domain/media-retention.js');
    const store = new S3MediaStore({
      bucket: BUCKET,
      prefix: 'outputs',
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
    });
    // "Now" a year ahead: everything in the bucket is past a 30-day retention.
    const purged = await purgeExpiredMedia(store, 30 * 86_400_000, Date.now() + 365 * 86_400_000);
    expect(purged).toBeGreaterThanOrEqual(1);
    await store.close();
    const res = await suite.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id}/outputs/0`,
      headers: auth(),
    });
    expect(res.statusCode).toBe(410);
    expect((res.json() as Json).code).toBe('output_expired');
  });
});
