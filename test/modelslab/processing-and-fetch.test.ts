import { afterAll, describe, expect, it } from 'vitest';
import { startModelslabEmulator } from '../../src/emulators/modelslab/server.js';
import { buildTestApp } from '../helpers/test-app.js';
import {
  API,
  ML_KEYS,
  PNG_SIGNATURE,
  callsTo,
  download,
  fetchesOf,
  startFaultProxy,
  tracker,
  wrap,
  type Json,
} from './harness.js';

// Tests run concurrently, each on its own emulator and app.
const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };

describe.concurrent('ModelsLab processing and fetch', () => {
  it('shows the task running, respects eta, then succeeds with the future links', async () => {
    const s = await files.start();
    s.emu.scriptNext({ processing: 1, eta: 1 });
    const started = Date.now();
    const res = await s.create('text-to-image', { ...image, num_outputs: 2 });
    expect(res.statusCode).toBe(201);
    const created = res.json<Json>();
    expect(created).toMatchObject({
      status: 'running',
      upstream: { status: 'processing' },
      outputs: [],
      completed_at: null,
    });
    const id = created.id as string;
    const upstreamId = (created.upstream as Json).id as string;

    const running = await s.getTask(id);
    expect(running).toMatchObject({ id, status: 'running', outputs: [], error: null });

    const done = await s.waitDone(id);
    expect(done).toMatchObject({ status: 'succeeded', progress: 1, error: null });

    // eta: 1 → no fetch before ~1 s after the create (10 % jitter allowed).
    const createCall = callsTo(s.emu, `${API}/text2img`)[0]!;
    const fetches = fetchesOf(s.emu, upstreamId);
    expect(fetches.length).toBe(2);
    expect(fetches[0]!.at - createCall.at).toBeGreaterThanOrEqual(900);
    expect(fetches[1]!.at - fetches[0]!.at).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1800);

    // fetch_result pointed at the configured base: it was followed as given, with the key only.
    for (const f of fetches) {
      expect(f.path).toBe(`${API}/fetch/${upstreamId}`);
      expect(f.body).toEqual({ key: ML_KEYS[0] });
    }

    // Outputs are the links announced while processing (the upstream's future_links).
    const futureLinks = await fetch(`${s.emu.url}${API}/fetch/${upstreamId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: ML_KEYS[0] }),
    }).then(async (r) => ((await r.json()) as { output: string[] }).output);
    const outputs = done.outputs as { url: string }[];
    expect(outputs.map((o) => o.url)).toEqual(futureLinks);
    for (const o of outputs) {
      const file = await download(o.url);
      expect(file.status).toBe(200);
      expect(file.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    }
  });

  it('fetches as often as the upstream stays processing', async () => {
    const s = await files.start();
    s.emu.scriptNext({ processing: 4, eta: 0 });
    const created = (await s.create('text-to-image', image)).json<Json>();
    const done = await s.waitDone(created.id as string);
    expect(done.status).toBe('succeeded');
    expect(fetchesOf(s.emu, (created.upstream as Json).id as string)).toHaveLength(5);
    expect(s.emu.creates).toBe(1);
  });

  it('a job that ends failed fails the task with upstream_rejected and the message', async () => {
    const s = await files.start();
    s.emu.scriptNext({ fail: 'Processing failed: out of GPU memory', afterFetches: 0 });
    const created = (await s.create('text-to-image', image)).json<Json>();
    expect(created.status).toBe('running');
    const done = await s.waitDone(created.id as string);
    expect(done).toMatchObject({
      status: 'failed',
      outputs: [],
      upstream: { status: 'failed' },
      error: {
        code: 'upstream_rejected',
        message: expect.stringContaining('Processing failed: out of GPU memory'),
      },
      completed_at: expect.any(String),
    });
  });

  it('"Request not found" on fetch fails the task', async () => {
    const s = await files.start();
    s.emu.scriptNext({ processing: 5, eta: 0.3 });
    const created = (await s.create('text-to-image', image)).json<Json>();
    s.emu.reset(); // the upstream forgets the job before the first fetch
    const done = await s.waitDone(created.id as string);
    expect(done).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_rejected', message: expect.stringContaining('Request not found') },
      // the "not found" answer has an empty id: the task keeps the real one
      upstream: { id: (created.upstream as Json).id },
    });
    expect(s.emu.calls).toHaveLength(1);
  });

  it('a 500 during fetch is retried and the task still completes (create not repeated)', async () => {
    const emu = await startModelslabEmulator({ apiKeys: [...ML_KEYS] });
    const proxy = await startFaultProxy(emu.url);
    files.defer(() => emu.close());
    files.defer(() => proxy.close());
    const t = await buildTestApp({
      providers: {
        modelslab: {
          baseUrl: proxy.url,
          credentials: [{ id: 'modelslab-1', secret: ML_KEYS[0] }],
          emulated: false,
          loadBalancer: true,
          videoPath: `${API}/video/text2video`,
        },
      },
    });
    const s = files.track(wrap(emu, t, () => t.close()));
    emu.scriptNext({ processing: 1, eta: 0 });
    proxy.failNext((p) => p.includes('/fetch'), 500, 2);
    proxy.failNext((p) => p.includes('/fetch'), 503, 1, '<html>Service Unavailable</html>');
    const created = (await s.create('text-to-image', image)).json<Json>();
    expect(created.status).toBe('running');
    const done = await s.waitDone(created.id as string);
    expect(done.status).toBe('succeeded');
    const fetches = proxy.calls.filter((c) => c.path.includes('/fetch'));
    expect(fetches.map((c) => c.status)).toEqual([500, 500, 503, 200, 200]);
    expect(proxy.calls.filter((c) => c.path.endsWith('/text2img'))).toHaveLength(1);
    expect(emu.creates).toBe(1);
    expect(t.logs.some((l) => l.includes('poll failed, will retry'))).toBe(true);
  });

  it('a fetch_result outside the configured base is not followed: the documented endpoint is', async () => {
    // The proxy is the configured base; the emulator behind it hands out fetch_result URLs
    // on its own origin, which genway must not call.
    const emu = await startModelslabEmulator({ apiKeys: [...ML_KEYS] });
    const proxy = await startFaultProxy(emu.url, false);
    files.defer(() => emu.close());
    files.defer(() => proxy.close());
    const t = await buildTestApp({
      providers: {
        modelslab: {
          baseUrl: proxy.url,
          credentials: [{ id: 'modelslab-1', secret: ML_KEYS[0] }],
          emulated: false,
          loadBalancer: true,
          videoPath: `${API}/video/text2video`,
        },
      },
    });
    const s = files.track(wrap(emu, t, () => t.close()));
    emu.scriptNext({ processing: 1, eta: 0 });
    const created = (await s.create('text-to-image', image)).json<Json>();
    const upstreamId = (created.upstream as Json).id as string;
    const done = await s.waitDone(created.id as string);
    expect(done.status).toBe('succeeded');
    const fetches = proxy.calls.filter((c) => c.path.includes('/fetch'));
    expect(fetches).toHaveLength(2);
    for (const f of fetches) {
      expect(f.path).toBe(`${API}/fetch`);
      expect(JSON.parse(f.body)).toEqual({ key: ML_KEYS[0], request_id: upstreamId });
    }
    // Every call the emulator saw came through the configured base.
    expect(emu.calls).toHaveLength(proxy.calls.length);
  });
});
