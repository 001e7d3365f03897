import { afterEach, describe, expect, it } from 'vitest';
import {
  LAYOUTS,
  PNG_SIGNATURE,
  SD,
  SD_REF,
  callsTo,
  isMp4,
  startReplicateSuite,
  type Json,
  type ReplicateSuite,
} from './harness.js';

let suite: ReplicateSuite | undefined;
afterEach(async () => {
  await suite?.close();
  suite = undefined;
});

async function download(url: string) {
  const res = await fetch(url);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe.each(LAYOUTS)('normalized surface → replicate (emulator mounted at %s)', (prefix) => {
  it('text-to-image by version reaches succeeded with PNG outputs', async () => {
    suite = await startReplicateSuite({ prefix });
    const res = await suite.create('text-to-image', {
      model: `replicate/${SD_REF}`,
      prompt: 'an astronaut riding a horse on mars',
      negative_prompt: 'blurry',
      width: 768,
      height: 512,
      num_outputs: 2,
      steps: 30,
      guidance_scale: 7.5,
      scheduler: 'K_EULER',
      seed: 42,
      provider_options: { apply_watermark: false },
    });
    expect(res.statusCode).toBe(201);
    const created = res.json() as Json;
    expect(created).toMatchObject({ provider: 'replicate', model: `replicate/${SD_REF}` });

    const task = await suite.waitDone(created.id as string);
    expect(task.status).toBe('succeeded');
    expect(task.upstream).toMatchObject({ status: 'succeeded' });
    const outputs = task.outputs as { url: string; content_type: string; expires_at: string }[];
    expect(outputs).toHaveLength(2);
    for (const o of outputs) {
      expect(o.content_type).toBe('image/png');
      expect(o.url.startsWith(`${suite.emu.url}/media/`)).toBe(true);
      expect(Date.parse(o.expires_at)).toBeGreaterThan(Date.now());
      const file = await download(o.url);
      expect(file.status).toBe(200);
      expect(file.bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    }

    // One create by bare hash with the mapped input and a short Prefer: wait, then polls of
    // `GET {base}/predictions/{id}` under the configured prefix.
    const [create, ...others] = callsTo(suite.emu, 'POST', /\/predictions$/);
    expect(others).toHaveLength(0);
    expect(create?.path).toBe(`${prefix}/predictions`);
    expect(create?.headers.prefer).toBe('wait=5');
    expect(create?.headers.authorization).toMatch(/^Bearer r8_/);
    expect(create?.body).toEqual({
      version: SD,
      input: {
        prompt: 'an astronaut riding a horse on mars',
        negative_prompt: 'blurry',
        width: 768,
        height: 512,
        num_outputs: 2,
        num_inference_steps: 30,
        guidance_scale: 7.5,
        scheduler: 'K_EULER',
        seed: 42,
        apply_watermark: false,
      },
    });
    // How many polls the job needs depends on the machine's load (a slow first poll may find it
    // done): at least one, each under the prefix.
    const polls = callsTo(suite.emu, 'GET', /\/predictions\/[a-z2-7]+$/);
    expect(polls.length).toBeGreaterThanOrEqual(1);
    for (const p of polls) expect(p.path.startsWith(`${prefix}/predictions/`)).toBe(true);
    expect(suite.leaks()).toEqual([]);
  });

  it('`replicate` alone uses the default model; official models go through /models/…', async () => {
    suite = await startReplicateSuite({ prefix });
    const byDefault = (
      await suite.create('text-to-image', { model: 'replicate', prompt: 'x' })
    ).json() as Json;
    expect(byDefault.model).toBe(`replicate/${SD_REF}`);
    const flux = await suite.create('text-to-image', {
      model: 'replicate/black-forest-labs/flux-schnell',
      prompt: 'a fox',
    });
    expect(flux.statusCode).toBe(201);
    const task = await suite.waitDone((flux.json() as Json).id as string);
    expect(task.status).toBe('succeeded');
    const models = callsTo(suite.emu, 'POST', /\/models\/[^/]+\/[^/]+\/predictions$/);
    expect(models.map((c) => c.path)).toEqual([
      `${prefix}/models/black-forest-labs/flux-schnell/predictions`,
    ]);
    expect(models[0]?.body).toEqual({ input: { prompt: 'a fox' } });
  });

  it('text-to-video on a video model returns the MP4', async () => {
    suite = await startReplicateSuite({ prefix });
    const res = await suite.create('text-to-video', {
      model: 'replicate/minimax/video-01',
      prompt: 'a paper boat on a rainy street',
      duration: 6,
    });
    expect(res.statusCode).toBe(201);
    const task = await suite.waitDone((res.json() as Json).id as string);
    expect(task.status).toBe('succeeded');
    const [output] = task.outputs as { url: string; content_type: string }[];
    expect(output?.content_type).toBe('video/mp4');
    expect(isMp4((await download(output!.url)).bytes)).toBe(true);
  });

  it('a failed prediction keeps its error string as the task error', async () => {
    suite = await startReplicateSuite({ prefix });
    suite.emu.scriptNext({ failWith: 'CUDA out of memory. Tried to allocate 2.00 GiB' });
    const res = await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' });
    const task = await suite.waitDone((res.json() as Json).id as string);
    expect(task).toMatchObject({
      status: 'failed',
      outputs: [],
      error: {
        code: 'upstream_rejected',
        message: 'CUDA out of memory. Tried to allocate 2.00 GiB',
      },
      upstream: { status: 'failed' },
    });
  });

  it('an unknown version is a 422 carrying Replicate’s detail, and no task runs', async () => {
    suite = await startReplicateSuite({ prefix });
    const res = await suite.create('text-to-image', {
      model: `replicate/stability-ai/stable-diffusion:${'0'.repeat(64)}`,
      prompt: 'x',
    });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = res.json() as Json;
    expect(problem.code).toBe('upstream_rejected');
    expect(problem.detail).toContain('Invalid version or not permitted');
    expect(problem.detail).toContain('The specified version does not exist');
    expect(suite.emu.creates).toBe(0);
    expect(suite.leaks()).toEqual([]);
  });

  it('a malformed model reference is refused before any upstream call', async () => {
    suite = await startReplicateSuite({ prefix });
    const res = await suite.create('text-to-image', {
      model: 'replicate/not a model',
      prompt: 'x',
    });
    expect(res.statusCode).toBe(400);
    expect((res.json() as Json).code).toBe('model_not_found');
    expect(suite.emu.calls).toHaveLength(0);
  });

  it('provider_options values must be JSON primitives or arrays of them', async () => {
    suite = await startReplicateSuite({ prefix });
    const res = await suite.create('text-to-image', {
      model: `replicate/${SD_REF}`,
      prompt: 'x',
      provider_options: { nested: { a: 1 }, prompt: 'again', 'bad key': 1, ok: [1, 'two'] },
    });
    expect(res.statusCode).toBe(400);
    const paths = ((res.json() as Json).errors as { path: string }[]).map((e) => e.path).sort();
    expect(paths).toEqual([
      'provider_options.bad key',
      'provider_options.nested',
      'provider_options.prompt',
    ]);
    expect(suite.emu.calls).toHaveLength(0);
  });

  it('429 during polling: Retry-After is honoured before the next poll', async () => {
    suite = await startReplicateSuite({ prefix });
    const res = await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' });
    const id = (res.json() as Json).id as string;
    // The create is done: the next API request is the first poll, which gets the 429.
    suite.emu.failNext({ kind: 'http429', retryAfter: 1 });
    const task = await suite.waitDone(id);
    expect(task.status).toBe('succeeded');
    // How many polls the job needs depends on the machine's load (a slow first poll may find it
    // done): at least one, each under the prefix.
    const polls = callsTo(suite.emu, 'GET', /\/predictions\/[a-z2-7]+$/);
    expect(polls.length).toBeGreaterThanOrEqual(1);
    // The polling policy of the test app is 20-200 ms; the wait after the 429 is ~1 s.
    const gap = polls[1]!.at - polls[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(850);
    expect(suite.t.logs.some((l) => l.includes('upstream_rate_limited'))).toBe(true);
    expect(suite.leaks()).toEqual([]);
  });

  it('5xx on a poll is retried; the task still succeeds', async () => {
    suite = await startReplicateSuite({ prefix });
    const res = await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' });
    suite.emu.failNext({ kind: 'http5xx', status: 503 }, 2);
    const task = await suite.waitDone((res.json() as Json).id as string);
    expect(task.status).toBe('succeeded');
  });

  it('402 billing on create is the operator’s problem (502 upstream_credits_exhausted)', async () => {
    suite = await startReplicateSuite({ prefix });
    suite.emu.failNext({ kind: 'http402' });
    const res = await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' });
    expect(res.statusCode).toBe(502);
    expect((res.json() as Json).code).toBe('upstream_credits_exhausted');
  });

  it('a refused upstream token is 502 upstream_auth_failed, never the token', async () => {
    suite = await startReplicateSuite({
      prefix,
      settings: { credentials: [{ id: 'replicate-1', secret: 'r8_revoked_token_00112233445566' }] },
    });
    const res = await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' });
    expect(res.statusCode).toBe(502);
    expect((res.json() as Json).code).toBe('upstream_auth_failed');
    expect([...suite.captured, ...suite.t.logs].some((t) => t.includes('r8_revoked_token'))).toBe(
      false,
    );
  });

  it('data removed after retention: a success first seen with output null is no error', async () => {
    // Retention 0: the poll that sees `succeeded` already has `output: null, data_removed`.
    suite = await startReplicateSuite({ prefix, emulator: { dataRetentionMs: 0 } });
    const res = await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' });
    const task = await suite.waitDone((res.json() as Json).id as string);
    expect(task).toMatchObject({ status: 'succeeded', error: null, outputs: [] });
    const last = suite.emu.calls.at(-1);
    expect(last?.method).toBe('GET');
  });

  it('data removed after retention: outputs seen earlier are kept', async () => {
    // `success-early-output` lists the files while processing (sync API); by the time the
    // prediction reports `succeeded`, retention 0 has removed them upstream.
    suite = await startReplicateSuite({ prefix, emulator: { dataRetentionMs: 0 } });
    suite.emu.scriptNext('success-early-output');
    const res = await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' });
    const task = await suite.waitDone((res.json() as Json).id as string);
    expect(task.status).toBe('succeeded');
    const outputs = task.outputs as { url: string }[];
    expect(outputs).toHaveLength(1);
    expect(outputs[0]?.url).toMatch(/\/media\/img-.+\.png$/);

    // The upstream no longer lists them; genway still does, and reads never call upstream.
    const upstream = await fetch(
      `${suite.emu.baseUrl}/predictions/${(task.upstream as Json).id as string}`,
      {
        headers: { authorization: `Bearer ${'r8_upstream_token_5c1e9a7b3d2f4e6a8b0c'}` },
      },
    );
    expect(await upstream.json()).toMatchObject({ output: null, data_removed: true });
    const again = await suite.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id as string}`,
      headers: { authorization: `Bearer ${suite.t.config.tenants[0]!.keys[0]!}` },
    });
    expect((again.json() as Json).outputs).toEqual(task.outputs);
  });
});
