import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Replicate, { type FileOutput } from 'replicate';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { PNG_SIGNATURE } from '../shared/png.js';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
  type ReplicateEmulatorOptions,
} from './server.js';
import { selfSignedCert } from '../../../test/helpers/self-signed-cert.js';

const TOKEN = 'r8_emulator_token';
const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
const ANIMATE_DIFF = 'beecf59c4aee8d81bf04f0381033dfa10dc16e845b4ae00d281e2fa377e48a9f';
const MP4_FTYP = Buffer.from('ftyp');

interface Prediction {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  logs: string;
  output: string[] | string | null;
  error: string | null;
  status: string;
  source: string;
  data_removed: boolean;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  deadline: string | null;
  metrics?: { predict_time?: number; total_time: number };
  urls: { web: string; get: string; cancel: string };
}

let emulator: ReplicateEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(opts: ReplicateEmulatorOptions = {}): Promise<ReplicateEmulator> {
  emulator = await startReplicateEmulator(opts);
  return emulator;
}

/** A raw request with the default token; `auth: null` sends none. */
async function call(
  e: ReplicateEmulator,
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; auth?: string | null } = {},
) {
  const headers: Record<string, string> = { ...opts.headers };
  const auth = opts.auth === undefined ? `Bearer ${TOKEN}` : opts.auth;
  if (auth !== null) headers.authorization = auth;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const url = path.startsWith('http') ? path : e.baseUrl + path;
  const res = await fetch(url, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  return { res, json: (await res.json()) as Prediction & Record<string, unknown> };
}

const createSd = (e: ReplicateEmulator, input: object = { prompt: 'an astronaut' }) =>
  call(e, 'POST', '/predictions', { body: { version: SD, input } });

async function pollUntilDone(e: ReplicateEmulator, id: string): Promise<Prediction[]> {
  const seen: Prediction[] = [];
  for (let i = 0; i < 20; i++) {
    const { json } = await call(e, 'GET', `/predictions/${id}`);
    seen.push(json);
    if (!['starting', 'processing'].includes(json.status)) return seen;
  }
  throw new Error('prediction never finished');
}

async function download(url: string) {
  const res = await fetch(url);
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe.each(['/v1', '/replicate/v1'])('layout %s', (prefix) => {
  it('creates by bare hash, polls starting → processing → succeeded, serves real PNGs', async () => {
    const e = await start({ prefix });
    expect(e.baseUrl).toBe(e.url + prefix);

    const { res, json: created } = await createSd(e, { prompt: 'a horse', num_outputs: 2 });
    expect(res.status).toBe(201);
    expect(created).toMatchObject({
      model: 'stability-ai/stable-diffusion',
      version: SD,
      input: { prompt: 'a horse', num_outputs: 2 },
      logs: '',
      output: null,
      error: null,
      status: 'starting',
      source: 'api',
      data_removed: false,
      started_at: null,
      completed_at: null,
      deadline: null,
    });
    expect(created.id).toMatch(/^[a-z2-7]{26}$/);
    expect(created.urls).toEqual({
      web: `${e.url}/p/${created.id}`,
      get: `${e.baseUrl}/predictions/${created.id}`,
      cancel: `${e.baseUrl}/predictions/${created.id}/cancel`,
    });
    expect(res.headers.get('location')).toBe(created.urls.get);
    expect(created).not.toHaveProperty('metrics');

    const seen = await pollUntilDone(e, created.id);
    expect(seen.map((p) => p.status)).toEqual(['starting', 'processing', 'succeeded']);
    const done = seen[2]!;
    expect(done.started_at).not.toBeNull();
    expect(done.completed_at).not.toBeNull();
    expect(done.metrics?.predict_time).toBeGreaterThanOrEqual(0);
    expect(done.metrics?.total_time).toBeGreaterThanOrEqual(done.metrics?.predict_time ?? 0);
    expect(done.logs).toContain('100%|');
    expect(done.output).toHaveLength(2);
    for (const url of done.output as string[]) {
      expect(url.startsWith(`${e.url}/media/`)).toBe(true);
      const { res: file, bytes } = await download(url);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('image/png');
      expect(bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    }
  });
});

describe('auth', () => {
  it('accepts Bearer and Token, rejects a missing or wrong token with problem bodies', async () => {
    const e = await start({ tokens: ['r8_a', 'r8_b'] });
    const bearer = await call(e, 'GET', '/predictions', { auth: 'Bearer r8_a' });
    expect(bearer.res.status).toBe(200);
    const token = await call(e, 'GET', '/predictions', { auth: 'Token r8_b' });
    expect(token.res.status).toBe(200);

    const missing = await call(e, 'GET', '/predictions', { auth: null });
    expect(missing.res.status).toBe(401);
    expect(missing.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(missing.json).toEqual({
      title: 'Unauthenticated',
      detail: 'You did not pass an authentication token',
      status: 401,
    });
    const wrong = await call(e, 'GET', '/predictions', { auth: 'Bearer r8_nope' });
    expect(wrong.res.status).toBe(401);
    expect(wrong.json).toEqual({
      title: 'Unauthenticated',
      detail: 'You did not pass a valid authentication token',
      status: 401,
    });
  });
});

describe('creating', () => {
  it('takes owner/name:hash (the relay form) and an official owner/name as version', async () => {
    const e = await start();
    const pinned = await call(e, 'POST', '/predictions', {
      body: { version: `stability-ai/stable-diffusion:${SD}`, input: { prompt: 'x' } },
    });
    expect(pinned.res.status).toBe(201);
    expect(pinned.json).toMatchObject({ model: 'stability-ai/stable-diffusion', version: SD });

    const official = await call(e, 'POST', '/predictions', {
      body: { version: 'black-forest-labs/flux-schnell', input: { prompt: 'x' } },
    });
    expect(official.res.status).toBe(201);
    expect(official.json).toMatchObject({
      model: 'black-forest-labs/flux-schnell',
      version: 'hidden',
    });
    expect(e.creates).toBe(2);
  });

  it('creates through the model route; an unknown model is a 404 problem', async () => {
    const e = await start();
    const { res, json } = await call(
      e,
      'POST',
      '/models/black-forest-labs/flux-schnell/predictions',
      {
        body: { input: { prompt: 'x' } },
      },
    );
    expect(res.status).toBe(201);
    expect(json).toMatchObject({ model: 'black-forest-labs/flux-schnell', version: 'hidden' });

    const unknown = await call(e, 'POST', '/models/acme/nothing/predictions', {
      body: { input: {} },
    });
    expect(unknown.res.status).toBe(404);
    expect(unknown.json).toMatchObject({ title: 'Not found', status: 404 });
  });

  it('answers 422 for unknown versions, mismatched names, extra fields and bad num_outputs', async () => {
    const e = await start();
    const invalidVersion = {
      title: 'Invalid version or not permitted',
      detail:
        "The specified version does not exist (or perhaps you don't have permission to use it?)",
      status: 422,
    };
    for (const version of ['0'.repeat(64), `acme/other:${SD}`, 'stability-ai/stable-diffusion']) {
      const { res, json } = await call(e, 'POST', '/predictions', {
        body: { version, input: {} },
      });
      expect(res.status).toBe(422);
      expect(json).toEqual(invalidVersion);
    }

    const extra = await call(e, 'POST', '/predictions', {
      body: { version: SD, input: {}, model: 'x' },
    });
    expect(extra.res.status).toBe(422);
    expect(extra.json.detail).toContain('Additional property model is not allowed');

    const tooMany = await createSd(e, { prompt: 'x', num_outputs: 5 });
    expect(tooMany.res.status).toBe(422);
    expect(tooMany.json.invalid_fields).toEqual([
      expect.objectContaining({ field: 'input.num_outputs' }),
    ]);
    expect(e.creates).toBe(0);
  });

  it('answers a scripted failure with a failed prediction and an error string', async () => {
    const e = await start();
    e.scriptNext('fail');
    e.scriptNext({ failWith: 'CUDA out of memory' });
    const first = await createSd(e);
    const second = await createSd(e);
    const firstDone = (await pollUntilDone(e, first.json.id)).at(-1)!;
    expect(firstDone).toMatchObject({ status: 'failed', output: null });
    expect(firstDone.error).toMatch(/NSFW/);
    expect(firstDone.metrics?.total_time).toBeGreaterThanOrEqual(0);
    const secondDone = (await pollUntilDone(e, second.json.id)).at(-1)!;
    expect(secondDone).toMatchObject({ status: 'failed', error: 'CUDA out of memory' });
  });

  it('gives video models one MP4 URL', async () => {
    const e = await start();
    const byVersion = await call(e, 'POST', '/predictions', {
      body: { version: ANIMATE_DIFF, input: { prompt: 'x' } },
    });
    e.scriptNext('success-video');
    const scripted = await createSd(e);
    for (const id of [byVersion.json.id, scripted.json.id]) {
      const done = (await pollUntilDone(e, id)).at(-1)!;
      expect(done.status).toBe('succeeded');
      expect(typeof done.output).toBe('string');
      const { res, bytes } = await download(done.output as string);
      expect(res.headers.get('content-type')).toBe('video/mp4');
      expect(bytes.subarray(4, 8)).toEqual(MP4_FTYP);
    }
  });
});

describe('cancel', () => {
  it('cancels a running prediction and leaves a finished one unchanged', async () => {
    const e = await start();
    const { json: created } = await createSd(e);
    await call(e, 'GET', `/predictions/${created.id}`);
    // Content-Type: application/json with an empty body, as the official client sends it.
    const res = await fetch(created.urls.cancel, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    const canceled = (await res.json()) as Prediction;
    expect(canceled.status).toBe('canceled');
    expect(canceled.completed_at).not.toBeNull();
    expect((await call(e, 'GET', `/predictions/${created.id}`)).json.status).toBe('canceled');

    const { json: other } = await createSd(e);
    const finished = (await pollUntilDone(e, other.id)).at(-1)!;
    const again = await call(e, 'POST', `/predictions/${other.id}/cancel`);
    expect(again.res.status).toBe(200);
    expect(again.json).toEqual(finished);

    expect((await call(e, 'POST', '/predictions/nosuchid/cancel')).res.status).toBe(404);
  });
});

describe('Prefer: wait', () => {
  it('holds the create until the prediction finishes when it is fast', async () => {
    const e = await start({ pollsStarting: 1, pollsProcessing: 2 });
    const { res, json } = await call(e, 'POST', '/predictions', {
      body: { version: SD, input: { prompt: 'x' } },
      headers: { prefer: 'wait' },
    });
    expect(res.status).toBe(201);
    expect(json.status).toBe('succeeded');
    expect(json.output).toHaveLength(1);
  });

  it('answers the incomplete prediction when wait=N runs out', async () => {
    const e = await start({ pollsStarting: 1000 });
    const t0 = Date.now();
    const { res, json } = await call(e, 'POST', '/predictions', {
      body: { version: SD, input: { prompt: 'x' } },
      headers: { prefer: 'wait=1' },
    });
    const elapsed = Date.now() - t0;
    expect(res.status).toBe(202);
    expect(json.status).toBe('starting');
    expect(json.output).toBeNull();
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3000);
  });

  it('returns as soon as file outputs are listed, even while still processing', async () => {
    const e = await start({ pollsStarting: 0, pollsProcessing: 1000 });
    e.scriptNext('success-early-output');
    const { res, json } = await call(e, 'POST', '/predictions', {
      body: { version: SD, input: { prompt: 'x' } },
      headers: { prefer: 'wait=5' },
    });
    expect(res.status).toBe(201);
    expect(json.status).toBe('processing');
    expect(json.output).toHaveLength(1);
  });
});

describe('Cancel-After', () => {
  it('aborts a prediction whose deadline passes before it starts', async () => {
    const e = await start({ timeScale: 0.001 }); // 5 s → 5 ms
    const { json } = await call(e, 'POST', '/predictions', {
      body: { version: SD, input: { prompt: 'x' } },
      headers: { 'cancel-after': '5s' },
    });
    expect(json.deadline).not.toBeNull();
    await sleep(30);
    const { json: later } = await call(e, 'GET', `/predictions/${json.id}`);
    expect(later).toMatchObject({ status: 'aborted', started_at: null, output: null });
    expect(later.completed_at).toBe(later.deadline);
  });

  it('cancels a prediction whose deadline passes while it runs', async () => {
    const e = await start({ timeScale: 0.04, pollsStarting: 0, pollsProcessing: 10 }); // 5 s → 200 ms
    const { json } = await call(e, 'POST', '/predictions', {
      body: { version: SD, input: { prompt: 'x' } },
      headers: { 'cancel-after': '5s' },
    });
    expect((await call(e, 'GET', `/predictions/${json.id}`)).json.status).toBe('processing');
    await sleep(250);
    const { json: later } = await call(e, 'GET', `/predictions/${json.id}`);
    expect(later.status).toBe('canceled');
    expect(later.started_at).not.toBeNull();
  });

  it('rejects durations under 5 s', async () => {
    const e = await start();
    const { res, json } = await call(e, 'POST', '/predictions', {
      body: { version: SD, input: {} },
      headers: { 'cancel-after': '4s' },
    });
    expect(res.status).toBe(422);
    expect(json.title).toBe('Invalid Cancel-After header');
  });
});

describe('faults', () => {
  it('throttles with 429, {detail} and Retry-After, then recovers', async () => {
    const e = await start();
    e.failNext({ kind: 'http429', retryAfter: 3 }, 2);
    for (let i = 0; i < 2; i++) {
      const { res, json } = await createSd(e);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('3');
      expect(json).toEqual({ detail: 'Request was throttled. Expected available in 3 seconds.' });
    }
    expect((await createSd(e)).res.status).toBe(201);
    expect(e.creates).toBe(1);
  });

  it('answers 402 on the next create only, and 5xx on whatever comes next', async () => {
    const e = await start();
    e.failNext({ kind: 'http402' });
    expect((await call(e, 'GET', '/predictions')).res.status).toBe(200);
    const billing = await createSd(e);
    expect(billing.res.status).toBe(402);
    expect(billing.json).toMatchObject({ title: 'Billing required', status: 402 });

    e.failNext({ kind: 'http5xx', status: 503 });
    const down = await call(e, 'GET', '/predictions');
    expect(down.res.status).toBe(503);
    expect(down.json).toMatchObject({ title: 'Service Unavailable', status: 503 });
  });
});

describe('data retention', () => {
  it('removes input, output and files once the retention period has passed', async () => {
    const e = await start({ dataRetentionMs: 300, pollsStarting: 0, pollsProcessing: 0 });
    const { json } = await createSd(e);
    const { json: done } = await call(e, 'GET', `/predictions/${json.id}`);
    expect(done.status).toBe('succeeded');
    const file = (done.output as string[])[0]!;
    expect((await download(file)).res.status).toBe(200);

    await sleep(350);
    const { json: later } = await call(e, 'GET', `/predictions/${json.id}`);
    expect(later).toMatchObject({
      status: 'succeeded',
      output: null,
      data_removed: true,
      input: {},
    });
    expect((await download(file)).res.status).toBe(404);
  });
});

describe('listing', () => {
  it('pages newest first with absolute next/previous URLs on the request host', async () => {
    const e = await start({ pageSize: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createSd(e)).json.id);
    const newestFirst = [...ids].reverse();

    const pages: string[][] = [];
    let url: string | null = e.baseUrl + '/predictions';
    let previous: string | null = null;
    while (url) {
      const { res, json } = await call(e, 'GET', url);
      expect(res.status).toBe(200);
      const page = json as unknown as {
        next: string | null;
        previous: string | null;
        results: Prediction[];
      };
      pages.push(page.results.map((p) => p.id));
      if (page.next) expect(page.next.startsWith(`${e.baseUrl}/predictions?cursor=`)).toBe(true);
      previous = page.previous;
      url = page.next;
    }
    expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);

    const back = await call(e, 'GET', previous!);
    expect((back.json as unknown as { results: Prediction[] }).results.map((p) => p.id)).toEqual(
      newestFirst.slice(2, 4),
    );

    expect((await call(e, 'GET', '/predictions?cursor=bm9wZQ')).res.status).toBe(400);

    // The cursor URL follows the Host the client used, e.g. localhost instead of 127.0.0.1.
    const viaLocalhost = e.baseUrl.replace('127.0.0.1', 'localhost');
    const first = await call(e, 'GET', `${viaLocalhost}/predictions`);
    expect(String(first.json.next).startsWith(`${viaLocalhost}/predictions?cursor=`)).toBe(true);
  });
});

describe('bookkeeping', () => {
  it('records every request and resets', async () => {
    const e = await start();
    await createSd(e, { prompt: 'recorded' });
    await call(e, 'GET', '/predictions', { auth: null });
    expect(e.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/predictions',
      'GET /v1/predictions',
    ]);
    expect(e.calls[0]).toMatchObject({
      headers: { authorization: `Bearer ${TOKEN}` },
      body: { version: SD, input: { prompt: 'recorded' } },
    });
    e.reset();
    expect(e.calls).toHaveLength(0);
    expect(e.creates).toBe(0);
    expect((await call(e, 'GET', '/predictions')).json.results).toEqual([]);
  });
});

describe('official replicate client (over HTTPS, so outputs become FileOutput objects)', () => {
  it('runs, polls, cancels, paginates and reports failures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replicate-emulator-'));
    const tls = selfSignedCert(dir);
    const agent = new Agent({ connect: { ca: tls.cert } });
    const e = await start({
      prefix: '/replicate/v1',
      tls,
      pollsStarting: 2,
      pollsProcessing: 2,
      pageSize: 2,
    });
    expect(e.baseUrl.startsWith('https://')).toBe(true);
    const replicate = new Replicate({
      auth: TOKEN,
      baseUrl: e.baseUrl,
      fetch: ((input: string | URL, init?: object) =>
        undiciFetch(input, { ...init, dispatcher: agent })) as unknown as typeof fetch,
    });
    try {
      // Blocking run by version: sends only the hash and `Prefer: wait`.
      const output = (await replicate.run(`stability-ai/stable-diffusion:${SD}`, {
        input: { prompt: 'an astronaut riding a horse on mars', num_outputs: 2 },
      })) as FileOutput[];
      expect(output).toHaveLength(2);
      for (const file of output) {
        expect(file.url().href.startsWith(`${e.url}/media/`)).toBe(true);
        const bytes = Buffer.from(await (await file.blob()).arrayBuffer());
        expect(bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
      }
      const create = e.calls.find((c) => c.method === 'POST')!;
      expect(create.headers.prefer).toBe('wait');
      expect(create.body).toMatchObject({ version: SD });

      // Polling run through the model route.
      const polled = (await replicate.run('black-forest-labs/flux-schnell', {
        input: { prompt: 'x' },
        wait: { mode: 'poll', interval: 10 },
      })) as FileOutput[];
      expect(String(polled[0])).toMatch(/\/media\/.+\.png$/);

      const started = await replicate.predictions.create({ version: SD, input: { prompt: 'x' } });
      const canceled = await replicate.predictions.cancel(started.id);
      expect(canceled.status).toBe('canceled');

      e.scriptNext({ failWith: 'boom' });
      await expect(
        replicate.run(`stability-ai/stable-diffusion:${SD}`, { input: {} }),
      ).rejects.toThrow('Prediction failed: boom');

      // The client retries a 429 by itself.
      e.failNext({ kind: 'http429' }, 2);
      expect((await replicate.predictions.get(started.id)).id).toBe(started.id);

      const ids: string[] = [];
      for await (const page of replicate.paginate(() => replicate.predictions.list())) {
        ids.push(...page.map((p) => p.id));
      }
      expect(ids).toHaveLength(e.creates);
    } finally {
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
