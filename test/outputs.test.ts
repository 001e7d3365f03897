import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelslabSettings } from '../src/providers/modelslab/index.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../src/emulators/modelslab/server.js';
import { MemoryTaskStore } from '../src/store/memory-store.js';
import { taskRecord } from './helpers/fake-provider.js';
import { auth, buildTestApp, findSecrets, KEY_B, type TestApp } from './helpers/test-app.js';

const ML_KEY = 'ml-emulator-key-outputs-test';

const modelslabAt = (baseUrl: string): ModelslabSettings => ({
  baseUrl,
  credentials: [{ id: 'modelslab-1', secret: ML_KEY }],
  emulated: true,
  loadBalancer: true,
  videoPath: '/api/v1/enterprise/video/text2video',
});

type Json = Record<string, unknown>;

describe('GET /v1/tasks/{id}/outputs/{index} against the ModelsLab emulator', () => {
  let emu: ModelslabEmulator;
  let t: TestApp;
  const store = new MemoryTaskStore();

  beforeAll(async () => {
    emu = await startModelslabEmulator({ apiKeys: [ML_KEY] });
    t = await buildTestApp({ providers: { modelslab: modelslabAt(emu.url) }, store });
  });
  afterAll(async () => {
    await t.close();
    await emu.close();
  });

  /** A text-to-image task, done at once by the emulator; returns the task and its file. */
  async function imageTask(): Promise<{ id: string; url: string; file: Buffer }> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: auth(),
      payload: { model: 'modelslab', prompt: 'a lighthouse at dusk' },
    });
    expect(res.statusCode).toBe(201);
    const task = res.json() as { id: string; status: string; outputs: { url: string }[] };
    expect(task.status).toBe('succeeded');
    const url = task.outputs[0]!.url;
    const file = Buffer.from(await (await fetch(url)).arrayBuffer());
    return { id: task.id, url, file };
  }

  const get = (id: string, index = 0, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${id}/outputs/${index}`,
      headers: { ...auth(), ...headers },
    });

  it('streams the PNG: same bytes as the emulator file, image/png, length, accept-ranges', async () => {
    const { id, file } = await imageTask();
    const res = await get(id);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-length']).toBe(String(file.length));
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.rawPayload.equals(file)).toBe(true);
    expect(file.subarray(1, 4).toString('ascii')).toBe('PNG');
  });

  it('passes Range bytes=0-99 on: 206, content-range, exactly 100 bytes', async () => {
    const { id, file } = await imageTask();
    expect(file.length).toBeGreaterThan(100);
    const res = await get(id, 0, { range: 'bytes=0-99' });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 0-99/${file.length}`);
    expect(res.headers['content-length']).toBe('100');
    expect(res.rawPayload.length).toBe(100);
    expect(res.rawPayload.equals(file.subarray(0, 100))).toBe(true);
  });

  it('passes a suffix range bytes=-10 on: the last 10 bytes', async () => {
    const { id, file } = await imageTask();
    const res = await get(id, 0, { range: 'bytes=-10' });
    expect(res.statusCode).toBe(206);
    const n = file.length;
    expect(res.headers['content-range']).toBe(`bytes ${n - 10}-${n - 1}/${n}`);
    expect(res.rawPayload.equals(file.subarray(n - 10))).toBe(true);
  });

  it('answers an unsatisfiable range with 416 problem+json and the size', async () => {
    const { id, file } = await imageTask();
    const res = await get(id, 0, { range: `bytes=${file.length + 10}-` });
    expect(res.statusCode).toBe(416);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.headers['content-range']).toBe(`bytes */${file.length}`);
    expect(res.json()).toMatchObject({ code: 'range_not_satisfiable', status: 416 });
  });

  it('answers HEAD with the headers and no body', async () => {
    const { id, file } = await imageTask();
    const res = await t.app.inject({
      method: 'HEAD',
      url: `/v1/tasks/${id}/outputs/0`,
      headers: auth(),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-length']).toBe(String(file.length));
    expect(res.rawPayload.length).toBe(0);
  });

  it('turns an upstream link that died (404) into 410 output_expired problem+json', async () => {
    const { id, url } = await imageTask();
    emu.expireOutput(url);
    const res = await get(id);
    expect(res.statusCode).toBe(410);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const problem = res.json() as Json;
    expect(problem).toMatchObject({ code: 'output_expired', status: 410 });
    expect(problem.detail).toMatch(/no longer serves output 0 .*HTTP 404/);
    expect(problem.request_id).toBe(res.headers['x-request-id']);
  });

  it('answers 410 for an output past expires_at without calling the upstream', async () => {
    const { url } = await imageTask();
    const task = taskRecord({
      provider: 'modelslab',
      outputs: [{ url, contentType: 'image/png', expiresAt: Date.now() - 1000 }],
    });
    await store.insert(task);
    const path = new URL(url).pathname;
    const before = emu.calls.filter((c) => c.path === path).length;
    const res = await get(task.id);
    expect(res.statusCode).toBe(410);
    const problem = res.json() as Json;
    expect(problem.code).toBe('output_expired');
    expect(problem.detail).toMatch(/expired at \d{4}-\d\d-\d\dT/);
    expect(emu.calls.filter((c) => c.path === path).length).toBe(before);
  });

  it("hides another tenant's task: 404 task_not_found", async () => {
    const { id } = await imageTask();
    const res = await get(id, 0, auth(KEY_B));
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'task_not_found' });
  });

  it('answers 409 output_not_ready while the task runs', async () => {
    const task = taskRecord({
      provider: 'modelslab',
      status: 'running',
      progress: null,
      completedAt: null,
    });
    await store.insert(task);
    const res = await get(task.id);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'output_not_ready' });
    expect((res.json() as Json).detail).toContain('running');
  });

  it('answers 404 output_not_found for an index out of range', async () => {
    const { id } = await imageTask();
    const res = await get(id, 1);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'output_not_found' });
    expect((res.json() as Json).detail).toContain('1 output(s)');
  });

  it('requires the gateway key and rejects a bad index with 400', async () => {
    const { id } = await imageTask();
    const anon = await t.app.inject({ method: 'GET', url: `/v1/tasks/${id}/outputs/0` });
    expect(anon.statusCode).toBe(401);
    const bad = await t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${id}/outputs/-1`,
      headers: auth(),
    });
    expect(bad.statusCode).toBe(400);
  });

  it('refuses an output URL on a host ModelsLab is not trusted for, without fetching it', async () => {
    const task = taskRecord({
      provider: 'modelslab',
      outputs: [
        {
          url: 'http://169.254.169.254/latest/meta-data/x.png',
          contentType: 'image/png',
          expiresAt: null,
        },
      ],
    });
    await store.insert(task);
    const res = await get(task.id);
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ code: 'upstream_bad_response' });
    expect((res.json() as Json).detail).toContain('169.254.169.254');
  });

  it('never leaks a secret in what it logged', () => {
    expect(findSecrets(t.logs, t.secrets)).toEqual([]);
  });
});

describe('outputs stream through genway (tiny upstream as the trusted ModelsLab origin)', () => {
  const CHUNK = 1024 * 1024;
  const CHUNKS = 24;
  const block = Buffer.alloc(CHUNK, 7);
  let upstream: Server;
  let origin = '';
  let release: () => void = () => {};
  const released = new Promise<void>((r) => (release = r));
  let bigFinished = false;
  let t: TestApp;
  let gateway = '';
  const store = new MemoryTaskStore();

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      if (req.url === '/big.mp4') {
        bigFinished = false;
        res.writeHead(200, { 'content-type': 'video/mp4', etag: '"big-1"' });
        res.write(block);
        // The rest only once the test has seen the first megabyte arrive at the client.
        void released.then(async () => {
          for (let i = 1; i < CHUNKS; i++) {
            if (!res.write(block)) {
              await new Promise((r) => res.once('drain', r));
            }
          }
          bigFinished = true;
          res.end();
        });
        return;
      }
      if (req.url === '/hop') {
        res.writeHead(302, { location: '/small.png' }).end();
        return;
      }
      if (req.url === '/hop-out') {
        res.writeHead(302, { location: 'http://example.invalid/x.png' }).end();
        return;
      }
      if (req.url === '/small.png') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '3' });
        res.end('abc');
        return;
      }
      if (req.url === '/reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    t = await buildTestApp({ providers: { modelslab: modelslabAt(origin) }, store });
    gateway = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    release();
    await t.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  async function taskWith(path: string, contentType = 'video/mp4'): Promise<string> {
    const task = taskRecord({
      provider: 'modelslab',
      type: 'text-to-video',
      outputs: [{ url: `${origin}${path}`, contentType, expiresAt: Date.now() + 60_000 }],
    });
    await store.insert(task);
    return task.id;
  }

  it('sends the first megabyte to the client before the upstream has finished', async () => {
    const id = await taskWith('/big.mp4');
    // A gateway that buffered would never pass the first megabyte on: stop waiting, then fail.
    const guard = setTimeout(release, 5000);
    const res = await request(`${gateway}/v1/tasks/${id}/outputs/0`, { headers: auth() });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('video/mp4');
    expect(res.headers.etag).toBe('"big-1"');
    let received = 0;
    let sawFirstMegabyteEarly = false;
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length;
      if (!sawFirstMegabyteEarly && received >= CHUNK) {
        // Nothing more has been written upstream: genway forwarded what it had, unbuffered.
        sawFirstMegabyteEarly = !bigFinished;
        release();
      }
    }
    clearTimeout(guard);
    expect(sawFirstMegabyteEarly).toBe(true);
    expect(bigFinished).toBe(true);
    expect(received).toBe(CHUNK * CHUNKS);
  });

  it('follows a redirect that stays on a trusted host; generic types become the output type', async () => {
    const id = await taskWith('/hop', 'image/png');
    const res = await t.app.inject({ url: `/v1/tasks/${id}/outputs/0`, headers: auth() });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.body).toBe('abc');
  });

  it('refuses a redirect to a host the provider is not trusted for', async () => {
    const id = await taskWith('/hop-out');
    const res = await t.app.inject({ url: `/v1/tasks/${id}/outputs/0`, headers: auth() });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ code: 'upstream_bad_response' });
  });

  it('maps a dropped upstream connection to 502 upstream_error', async () => {
    const id = await taskWith('/reset');
    const res = await t.app.inject({ url: `/v1/tasks/${id}/outputs/0`, headers: auth() });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ code: 'upstream_error' });
  });

  it('maps an upstream 5xx to 502 upstream_error', async () => {
    const id = await taskWith('/nope');
    const res = await t.app.inject({ url: `/v1/tasks/${id}/outputs/0`, headers: auth() });
    expect(res.statusCode).toBe(502);
    expect((res.json() as Json).detail).toContain('HTTP 500');
  });
});
