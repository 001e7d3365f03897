import { afterAll, describe, expect, it } from 'vitest';
import { ModelslabAdapter } from '../../src/providers/modelslab/adapter.js';
import { UpstreamClient } from '../../src/providers/http-client.js';
import { buildTestApp } from '../helpers/test-app.js';
import {
  API,
  ML_KEYS,
  startFakeUpstream,
  tracker,
  wrap,
  type Json,
  type Suite,
} from './harness.js';

// Tests run concurrently, each on its own emulator and app.
const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };

describe.concurrent('ModelsLab answer variants (scripted fake upstream)', () => {
  async function fakeSuite(
    answer: Parameters<typeof startFakeUpstream>[0],
    videoPath = `${API}/video/text2video`,
  ) {
    const fake = await startFakeUpstream(answer);
    const t = await buildTestApp({
      providers: {
        modelslab: {
          baseUrl: fake.url,
          credentials: [{ id: 'modelslab-1', secret: ML_KEYS[0] }],
          emulated: false,
          loadBalancer: true,
          videoPath,
        },
      },
    });
    files.defer(() => fake.close());
    const s = files.track(
      wrap(
        // The fake stands in for the emulator; only `calls` is read by the suite helpers.
        { url: fake.url, calls: [] } as unknown as Suite['emu'],
        t,
        () => t.close(),
      ),
    );
    return { fake, s };
  }

  it('legacy `messege`, string id, string numbers, output "" and a foreign fetch_result (video)', async () => {
    let fetches = 0;
    const { fake, s } = await fakeSuite((call, base) => {
      if (call.path.endsWith('/text2video')) {
        return {
          body: {
            status: 'processing',
            tip: 'Your image is processing in background, you can get this image using fetch API',
            eta: '0',
            messege: 'Try to fetch request after given estimated time',
            webhook_status: '',
            fetch_result: 'http://169.254.169.254/latest/meta-data/fetch/abc123-def456',
            id: 'abc123-def456',
            output: '',
          },
        };
      }
      fetches++;
      return fetches < 2
        ? { body: { status: 'processing', messege: 'Request processing', id: 'abc123-def456' } }
        : {
            body: {
              status: 'success',
              generationTime: '8.905',
              id: 'abc123-def456',
              output: [`${base}/generations/abc123.mp4`],
            },
          };
    });
    const created = (
      await s.create('text-to-video', { model: 'modelslab', prompt: 'x' })
    ).json<Json>();
    expect(created).toMatchObject({ status: 'running', upstream: { id: 'abc123-def456' } });
    const done = await s.waitDone(created.id as string);
    expect(done).toMatchObject({
      status: 'succeeded',
      upstream: { id: 'abc123-def456', status: 'success' },
      outputs: [{ url: `${fake.url}/generations/abc123.mp4`, content_type: 'video/mp4' }],
    });
    const fetchCalls = fake.calls.filter((c) => !c.path.endsWith('/text2video'));
    expect(fetchCalls).toHaveLength(2);
    for (const c of fetchCalls) {
      expect(c.path).toBe(`${API}/video/fetch/abc123-def456`);
      expect(c.body).toEqual({ key: ML_KEYS[0] });
    }
  });

  it('a string eta is honoured and a legacy-spelled failure message is kept', async () => {
    const { fake, s } = await fakeSuite((call) =>
      call.path.endsWith('/text2img')
        ? { body: { status: 'processing', id: 77, eta: '0.5', messege: 'Try later', output: [] } }
        : { body: { status: 'failed', id: 77, messege: 'NSFW content detected' } },
    );
    const created = (await s.create('text-to-image', image)).json<Json>();
    const createdAt = Date.now();
    const done = await s.waitDone(created.id as string);
    expect(done).toMatchObject({
      status: 'failed',
      upstream: { id: '77' },
      error: {
        code: 'upstream_rejected',
        message: expect.stringContaining('NSFW content detected'),
      },
    });
    expect(Date.now() - createdAt).toBeGreaterThanOrEqual(450);
    // No fetch_result at all: the documented image queue endpoint with request_id.
    expect(fake.calls.slice(1)).toEqual([
      { method: 'POST', path: `${API}/fetch`, body: { key: ML_KEYS[0], request_id: '77' } },
    ]);
  });

  it('legacy spelling from the emulator (processing answers with `messege`)', async () => {
    const s = await files.start({ emulator: { legacySpelling: true } });
    s.emu.scriptNext({ processing: 1, eta: 0 });
    const created = (await s.create('text-to-image', image)).json<Json>();
    const done = await s.waitDone(created.id as string);
    expect(done.status).toBe('succeeded');
    expect(done.outputs).toHaveLength(1);
  });
});

describe.concurrent('ModelslabAdapter, called directly', () => {
  it('keeps the documented fetch endpoint when fetch_result points elsewhere', async () => {
    const fake = await startFakeUpstream(() => ({
      body: {
        status: 'processing',
        id: 9,
        eta: 3,
        fetch_result: 'https://evil.example/api/v1/enterprise/fetch/9',
        future_links: ['https://cdn.example/9.png'],
      },
    }));
    files.defer(() => fake.close());
    const adapter = new ModelslabAdapter(
      {
        baseUrl: fake.url,
        credentials: [{ id: 'c1', secret: ML_KEYS[0] }],
        emulated: false,
        loadBalancer: true,
        videoPath: `${API}/video/text2video`,
      },
      new UpstreamClient({ provider: 'modelslab', timeoutMs: 30_000 }),
    );
    files.defer(() => adapter.close());
    const credential = { id: 'c1', secret: ML_KEYS[0] };
    const snap = await adapter.start({
      operation: 'text-to-image',
      model: 'sdxl',
      input: { prompt: 'x' },
      credential,
    });
    expect(snap).toMatchObject({
      upstreamId: '9',
      status: 'running',
      pollAfterMs: 3000,
      state: { fetchUrl: `${fake.url}${API}/fetch`, futureLinks: ['https://cdn.example/9.png'] },
    });
    await adapter.poll({
      operation: 'text-to-image',
      model: 'sdxl',
      credential,
      upstreamId: '9',
      state: snap.state!,
    });
    expect(fake.calls.map((c) => c.path)).toEqual([`${API}/text2img`, `${API}/fetch`]);
    expect(fake.calls[1]!.body).toEqual({ key: ML_KEYS[0], request_id: '9' });
  });
});
