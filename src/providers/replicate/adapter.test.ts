import { describe, expect, it } from 'vitest';
import type { ReplicateSettings } from './index.js';
import { ModelRegistry } from '../../domain/models.js';
import type { PollCall, StartCall } from '../../domain/ports.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from '../http-client.js';
import { ReplicateAdapter } from './adapter.js';
import { predictionFixture, SD } from './prediction.fixture.js';

const TOKEN = 'r8_unit_token_0123456789';

/** Answers queued responses and records each request. */
class FakeClient {
  readonly sent: { url: string; req: UpstreamRequest }[] = [];
  readonly answers: UpstreamResponse[] = [];
  closed = false;
  async send(url: string, req: UpstreamRequest): Promise<UpstreamResponse> {
    this.sent.push({ url, req });
    const next = this.answers.shift();
    if (!next) throw new Error('no answer queued');
    return next;
  }
  async close() {
    this.closed = true;
  }
}

const prediction = (over: Record<string, unknown> = {}) =>
  predictionFixture({
    created_at: '2026-01-01T00:00:00Z',
    started_at: undefined,
    completed_at: undefined,
    urls: {
      get: 'https://elsewhere.example/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu',
      cancel: 'https://elsewhere.example/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu/cancel',
    },
    ...over,
  });

function setup(settings: Partial<ReplicateSettings> = {}, preferWaitSeconds?: number) {
  const client = new FakeClient();
  const adapter = new ReplicateAdapter(
    {
      baseUrl: 'https://relay.example.com/replicate/v1/',
      credentials: [{ id: 'r1', secret: TOKEN }],
      emulated: false,
      models: [],
      ...settings,
    },
    client as unknown as UpstreamClient,
    preferWaitSeconds === undefined ? {} : { preferWaitSeconds },
  );
  return { client, adapter };
}

const start = (over: Partial<StartCall> = {}): StartCall => ({
  operation: 'text-to-image',
  model: `stability-ai/stable-diffusion:${SD}`,
  input: { prompt: 'x', steps: 20 },
  credential: { id: 'r1', secret: TOKEN },
  ...over,
});
const pollCall = (over: Partial<PollCall> = {}): PollCall => ({
  operation: 'text-to-image',
  model: `stability-ai/stable-diffusion:${SD}`,
  credential: { id: 'r1', secret: TOKEN },
  upstreamId: 'gm3qorzdhgbfurvjtvhg6dckhu',
  state: {},
  ...over,
});

describe('ReplicateAdapter', () => {
  it('creates by version under the configured base, with the token and Prefer: wait=5', async () => {
    const { client, adapter } = setup();
    client.answers.push({ status: 201, headers: {}, json: prediction() });
    const s = await adapter.start(start());
    expect(s).toMatchObject({ upstreamId: 'gm3qorzdhgbfurvjtvhg6dckhu', status: 'queued' });
    expect(client.sent).toHaveLength(1);
    const [{ url, req }] = client.sent as [{ url: string; req: UpstreamRequest }];
    expect(url).toBe('https://relay.example.com/replicate/v1/predictions');
    expect(req.method).toBe('POST');
    expect(req.headers).toEqual({ prefer: 'wait=5', authorization: `Bearer ${TOKEN}` });
    expect(req.json).toEqual({ version: SD, input: { prompt: 'x', num_inference_steps: 20 } });
  });

  it('creates official models through /models/{owner}/{name}/predictions; wait 0 sends no Prefer', async () => {
    const { client, adapter } = setup({}, 0);
    client.answers.push({ status: 201, headers: {}, json: prediction({ version: 'hidden' }) });
    await adapter.start(start({ model: 'black-forest-labs/flux-schnell' }));
    expect(client.sent[0]?.url).toBe(
      'https://relay.example.com/replicate/v1/models/black-forest-labs/flux-schnell/predictions',
    );
    expect(client.sent[0]?.req.headers).toEqual({ authorization: `Bearer ${TOKEN}` });
    expect(client.sent[0]?.req.json).toEqual({ input: { prompt: 'x', num_inference_steps: 20 } });
  });

  it('sends a raw input as it is (compatible surface)', async () => {
    const { client, adapter } = setup();
    client.answers.push({ status: 201, headers: {}, json: prediction() });
    const raw = { prompt: 'raw', custom: [1, 2], nested: { a: true } };
    const s = await adapter.start(start({ model: SD, input: {}, raw }));
    expect(client.sent[0]?.req.json).toEqual({ version: SD, input: raw });
    expect((s.state as { replicate: { input: unknown } }).replicate.input).toEqual(raw);
  });

  it('exposes the prediction fields it keeps to the compatible surface, never the rest', async () => {
    const { client, adapter } = setup();
    client.answers.push({ status: 201, headers: {}, json: prediction({ logs: 'step 1' }) });
    const s = await adapter.start(start());
    const state = { ...s.state, early_outputs: [] };
    expect(adapter.surfaceFields(state)).toMatchObject({
      model: 'stability-ai/stable-diffusion',
      version: SD,
      logs: 'step 1',
      input: { prompt: 'x', num_inference_steps: 20 },
    });
    expect(adapter.surfaceFields(state)).not.toHaveProperty('early_outputs');
    // A task written before the adapter kept anything (or with a damaged state): nothing.
    expect(adapter.surfaceFields({})).toEqual({});
    expect(adapter.surfaceFields({ replicate: 'garbage' })).toEqual({});
  });

  it('polls and cancels at paths built from the base, never at urls.get / urls.cancel', async () => {
    const { client, adapter } = setup();
    client.answers.push(
      { status: 200, headers: {}, json: prediction({ status: 'processing' }) },
      { status: 200, headers: {}, json: prediction({ status: 'canceled' }) },
    );
    expect((await adapter.poll(pollCall())).status).toBe('running');
    expect((await adapter.cancel(pollCall())).status).toBe('canceled');
    expect(client.sent.map((c) => [c.req.method, c.url])).toEqual([
      ['GET', 'https://relay.example.com/replicate/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu'],
      [
        'POST',
        'https://relay.example.com/replicate/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu/cancel',
      ],
    ]);
    expect(client.sent[1]?.req.json).toBeUndefined();
  });

  it('encodes the upstream id into the path', async () => {
    const { client, adapter } = setup();
    client.answers.push({ status: 200, headers: {}, json: prediction({ id: 'a/../b' }) });
    await adapter.poll(pollCall({ upstreamId: 'a/../b' }));
    expect(client.sent[0]?.url).toBe(
      'https://relay.example.com/replicate/v1/predictions/a%2F..%2Fb',
    );
  });

  it('an answer about another prediction, or without one, is upstream_bad_response', async () => {
    const { client, adapter } = setup();
    client.answers.push(
      { status: 200, headers: {}, json: prediction({ id: 'other' }) },
      { status: 200, headers: {}, json: { hello: 'world' } },
      { status: 201, headers: {}, json: undefined },
    );
    await expect(adapter.poll(pollCall())).rejects.toMatchObject({
      code: 'upstream_bad_response',
      retryable: true,
    });
    await expect(adapter.poll(pollCall())).rejects.toMatchObject({
      code: 'upstream_bad_response',
      retryable: true,
    });
    await expect(adapter.start(start())).rejects.toMatchObject({
      code: 'upstream_bad_response',
      retryable: false,
    });
  });

  it('maps HTTP errors (429 with Retry-After on a poll)', async () => {
    const { client, adapter } = setup();
    client.answers.push({
      status: 429,
      headers: { 'retry-after': '2' },
      json: { detail: 'throttled' },
    });
    const err = (await adapter.poll(pollCall()).catch((e: unknown) => e)) as GatewayError;
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({
      code: 'upstream_rate_limited',
      retryAfterMs: 2000,
      retryable: true,
    });
  });

  it('refuses a malformed model before any call', async () => {
    const { client, adapter } = setup();
    await expect(adapter.start(start({ model: 'nope' }))).rejects.toMatchObject({
      code: 'model_not_found',
    });
    expect(client.sent).toHaveLength(0);
  });

  it('trusts replicate.delivery (https), the base origin (relay or emulator) and output_hosts', () => {
    const { adapter } = setup();
    expect(adapter.isOutputUrl('https://replicate.delivery/pbxt/a/out-0.png')).toBe(true);
    expect(adapter.isOutputUrl('https://pbxt.replicate.delivery/a/out-0.png')).toBe(true);
    expect(adapter.isOutputUrl('http://replicate.delivery/a.png')).toBe(false);
    expect(adapter.isOutputUrl('https://replicate.delivery.evil.com/a.png')).toBe(false);
    expect(adapter.isOutputUrl('https://evilreplicate.delivery/a.png')).toBe(false);
    expect(adapter.isOutputUrl('https://user:pw@replicate.delivery/a.png')).toBe(false);
    // The relay's own origin serves its outputs (architecture §6); another port or host does not.
    expect(adapter.isOutputUrl('https://relay.example.com/media/a.png')).toBe(true);
    expect(adapter.isOutputUrl('https://relay.example.com:8443/media/a.png')).toBe(false);
    expect(adapter.isOutputUrl('https://cdn.relay.example.com/media/a.png')).toBe(false);
    expect(adapter.isOutputUrl('not a url')).toBe(false);
    const emulated = setup({ baseUrl: 'http://127.0.0.1:4321/v1', emulated: true }).adapter;
    expect(emulated.isOutputUrl('http://127.0.0.1:4321/media/a.png')).toBe(true);
    expect(emulated.isOutputUrl('http://127.0.0.1:4322/media/a.png')).toBe(false);
    const extra = setup({ outputHosts: ['files.relay.example', 'http://10.0.0.5:9000'] }).adapter;
    expect(extra.isOutputUrl('https://files.relay.example/o/a.png')).toBe(true);
    expect(extra.isOutputUrl('https://eu.files.relay.example/o/a.png')).toBe(true);
    expect(extra.isOutputUrl('http://files.relay.example/o/a.png')).toBe(false);
    expect(extra.isOutputUrl('http://10.0.0.5:9000/o/a.png')).toBe(true);
    expect(extra.isOutputUrl('http://10.0.0.5:9001/o/a.png')).toBe(false);
  });

  it('closes its client', async () => {
    const { client, adapter } = setup();
    await adapter.close();
    expect(client.closed).toBe(true);
  });
});

describe('ModelRegistry with an open-ended catalogue', () => {
  const { adapter } = setup();
  const registry = new ModelRegistry(new Map([['replicate', { adapter, emulated: false }]]), {
    sd: `replicate/stability-ai/stable-diffusion:${SD}`,
  });

  it('resolves listed models, aliases, the provider default, and any well-formed ref', () => {
    expect(registry.resolve('replicate', 'text-to-image').model).toBe(
      `stability-ai/stable-diffusion:${SD}`,
    );
    expect(registry.resolve('replicate', 'text-to-video').model).toBe('minimax/video-01');
    expect(registry.resolve('sd', 'text-to-image').publicId).toBe(
      `replicate/stability-ai/stable-diffusion:${SD}`,
    );
    const any = registry.resolve(`replicate/someone/new-model:${'b'.repeat(64)}`, 'text-to-image');
    expect(any).toMatchObject({
      provider: 'replicate',
      model: `someone/new-model:${'b'.repeat(64)}`,
    });
  });

  it('refuses malformed refs and operations the model lacks', () => {
    expect(() => registry.resolve('replicate/bad ref', 'text-to-image')).toThrow(/Unknown model/);
    expect(() => registry.resolve('replicate/someone/new-model', 'text-to-video')).toThrow(
      /does not support text-to-video/,
    );
  });

  it('operationsOf answers for listed and described models', () => {
    expect(registry.operationsOf('replicate', 'minimax/video-01')).toEqual([
      'text-to-video',
      'image-to-video',
    ]);
    expect(registry.operationsOf('replicate', SD)).toEqual(['text-to-image']);
    expect(registry.operationsOf('replicate', 'bad ref')).toEqual([]);
    expect(registry.operationsOf('nobody', 'x/y')).toEqual([]);
  });

  it('GET /v1/models lists only the catalogue, not every possible ref', () => {
    expect(registry.list().map((m) => m.id)).toEqual([
      `replicate/stability-ai/stable-diffusion:${SD}`,
      'replicate/black-forest-labs/flux-schnell',
      'replicate/minimax/video-01',
    ]);
  });
});
