import { describe, expect, it } from 'vitest';
import {
  cancelAfterOf,
  preferWaitOf,
  DATA_RETENTION_MS,
  keptInput,
  outputUrls,
  progressFromLogs,
  toCreateRequest,
  toReplicateInput,
  toSnapshot,
  validateInput,
  type ReplicateState,
} from './mapping.js';
import { predictionFixture, SD } from './prediction.fixture.js';
import type { ReplicatePrediction } from './wire.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('validateInput', () => {
  it('accepts any provider_options key with primitive or array values', () => {
    expect(
      validateInput('text-to-image', `a/b:${SD}`, {
        prompt: 'x',
        provider_options: {
          apply_watermark: false,
          lora_scale: 0.6,
          refine: 'expert_ensemble_refiner',
          ids: [1, 'a'],
        },
      }),
    ).toEqual([]);
  });

  it('refuses objects, null, bad names, and keys a normalized field already sets', () => {
    const errors = validateInput('text-to-image', `a/b:${SD}`, {
      prompt: 'x',
      steps: 20,
      provider_options: {
        nested: { a: 1 },
        nothing: null,
        'bad-key': 1,
        num_inference_steps: 30,
        deep: [[1]],
      },
    });
    expect(errors.map((e) => e.path).sort()).toEqual([
      'provider_options.bad-key',
      'provider_options.deep',
      'provider_options.nested',
      'provider_options.nothing',
      'provider_options.num_inference_steps',
    ]);
    expect(errors.find((e) => e.path.endsWith('num_inference_steps'))?.message).toContain(
      '"steps"',
    );
  });

  it('a provider option may set an input whose normalized field is absent', () => {
    expect(
      validateInput('text-to-image', `a/b:${SD}`, {
        prompt: 'x',
        provider_options: { num_inference_steps: 30 },
      }),
    ).toEqual([]);
  });

  it('image-to-video needs an image', () => {
    expect(validateInput('image-to-video', 'minimax/video-01', { prompt: 'x' })).toEqual([
      { path: 'image', message: 'required for image-to-video' },
    ]);
  });
});

describe('toReplicateInput', () => {
  it('maps text-to-image fields (steps → num_inference_steps) plus provider_options', () => {
    expect(
      toReplicateInput('text-to-image', `a/b:${SD}`, {
        prompt: 'p',
        negative_prompt: 'n',
        width: 768,
        height: 512,
        num_outputs: 2,
        steps: 30,
        guidance_scale: 7,
        scheduler: 'K_EULER',
        seed: 1,
        duration: 5,
        provider_options: { refine: 'no_refiner' },
      }),
    ).toEqual({
      prompt: 'p',
      negative_prompt: 'n',
      width: 768,
      height: 512,
      num_outputs: 2,
      num_inference_steps: 30,
      guidance_scale: 7,
      scheduler: 'K_EULER',
      seed: 1,
      refine: 'no_refiner',
    });
  });

  it('maps video fields; the start image goes where the model reads it', () => {
    expect(
      toReplicateInput('image-to-video', 'minimax/video-01', {
        prompt: 'p',
        image: 'https://example.com/a.png',
        duration: 6,
        aspect_ratio: '16:9',
      }),
    ).toEqual({
      prompt: 'p',
      first_frame_image: 'https://example.com/a.png',
      duration: 6,
      aspect_ratio: '16:9',
    });
    expect(
      toReplicateInput('image-to-video', 'someone/video', { image: 'data:image/png;base64,AA==' }),
    ).toEqual({ image: 'data:image/png;base64,AA==' });
  });
});

describe('toCreateRequest', () => {
  it('by version: POST /predictions with the bare id', () => {
    expect(toCreateRequest({ model: 'a/b', version: SD }, { prompt: 'x' })).toEqual({
      path: '/predictions',
      body: { version: SD, input: { prompt: 'x' } },
    });
    expect(toCreateRequest({ version: SD }, {}).body).toEqual({ version: SD, input: {} });
  });
  it('by model: POST /models/{owner}/{name}/predictions', () => {
    expect(toCreateRequest({ model: 'black-forest-labs/flux-schnell' }, { prompt: 'x' })).toEqual({
      path: '/models/black-forest-labs/flux-schnell/predictions',
      body: { input: { prompt: 'x' } },
    });
  });
});

describe('outputUrls', () => {
  it('reads a URL, a list, or the URL values of an object; ignores text', () => {
    expect(outputUrls('https://replicate.delivery/a.mp4')).toEqual({
      urls: ['https://replicate.delivery/a.mp4'],
      kind: 'string',
    });
    expect(outputUrls(['https://x/1.png', 'https://x/2.png', 7])).toEqual({
      urls: ['https://x/1.png', 'https://x/2.png'],
      kind: 'list',
    });
    expect(outputUrls({ video: 'https://x/v.mp4', seed: 3 }).urls).toEqual(['https://x/v.mp4']);
    expect(outputUrls('just some text').urls).toEqual([]);
    expect(outputUrls(['file:///etc/passwd']).urls).toEqual([]);
    expect(outputUrls(null)).toEqual({ urls: [], kind: null });
  });
});

describe('progressFromLogs', () => {
  it('takes the last tqdm percentage', () => {
    expect(progressFromLogs(' 20%|██        | 10/50\n 60%|██████    | 30/50\n')).toBe(0.6);
    expect(progressFromLogs('Using seed: 1\n')).toBeUndefined();
  });
});

describe('keptInput', () => {
  it('elides long strings (data: URIs)', () => {
    const big = `data:image/png;base64,${'A'.repeat(5000)}`;
    expect(keptInput({ image: big, prompt: 'x' })).toEqual({
      image: `[${big.length} characters not kept by genway]`,
      prompt: 'x',
    });
  });
});

const prediction = (over: Partial<ReplicatePrediction>) => predictionFixture(over);

describe('toSnapshot', () => {
  it('maps every status', () => {
    const status = (s: string) =>
      toSnapshot(prediction({ status: s }), 'text-to-image', {}, [], NOW).status;
    expect(status('starting')).toBe('queued');
    expect(status('processing')).toBe('running');
    expect(status('canceled')).toBe('canceled');
    expect(status('aborted')).toBe('canceled');
    expect(status('failed')).toBe('failed');
    expect(status('succeeded')).toBe('succeeded');
    const unknown = toSnapshot(prediction({ status: 'exploded' }), 'text-to-image', {}, [], NOW);
    expect(unknown).toMatchObject({ status: 'failed', error: { code: 'upstream_bad_response' } });
  });

  it('keeps the raw status, the id and a view without urls', () => {
    const s = toSnapshot(prediction({ status: 'aborted' }), 'text-to-image', {}, [], NOW);
    expect(s).toMatchObject({
      upstreamId: 'gm3qorzdhgbfurvjtvhg6dckhu',
      upstreamStatus: 'aborted',
    });
    expect(JSON.stringify(s.state)).not.toContain('evil.example');
  });

  it('succeeded: outputs with content types and the 1 h expiry from completed_at', () => {
    const s = toSnapshot(
      prediction({
        status: 'succeeded',
        completed_at: '2026-01-01T00:00:10.000Z',
        output: [
          'https://replicate.delivery/pbxt/a/out-0.png',
          'https://replicate.delivery/pbxt/a/out-1.webp',
        ],
        metrics: { predict_time: 4.2, total_time: 10 },
      }),
      'text-to-image',
      {},
      [],
      NOW,
    );
    const expires = Date.parse('2026-01-01T00:00:10.000Z') + DATA_RETENTION_MS;
    expect(s).toMatchObject({ status: 'succeeded', progress: 1 });
    expect(s.outputs).toEqual([
      {
        url: 'https://replicate.delivery/pbxt/a/out-0.png',
        contentType: 'image/png',
        expiresAt: expires,
      },
      {
        url: 'https://replicate.delivery/pbxt/a/out-1.webp',
        contentType: 'image/webp',
        expiresAt: expires,
      },
    ]);
    expect((s.state as ReplicateState).replicate).toMatchObject({
      output_kind: 'list',
      metrics: { predict_time: 4.2, total_time: 10 },
    });
  });

  it('video output without an extension is video/mp4; data: outputs keep their type', () => {
    const v = toSnapshot(
      prediction({ status: 'succeeded', output: 'https://replicate.delivery/x/out' }),
      'text-to-video',
      {},
      [],
      NOW,
    );
    expect(v.outputs?.[0]?.contentType).toBe('video/mp4');
    expect((v.state as ReplicateState).replicate.output_kind).toBe('string');
    const d = toSnapshot(
      prediction({ status: 'succeeded', output: ['data:image/webp;base64,AAAA'] }),
      'text-to-image',
      {},
      [],
      NOW,
    );
    expect(d.outputs).toEqual([
      { url: 'data:image/webp;base64,AAAA', contentType: 'image/webp', expiresAt: null },
    ]);
  });

  it('data_removed: outputs seen earlier are kept, else left undefined (keep what is stored)', () => {
    const early = toSnapshot(
      prediction({
        status: 'processing',
        output: ['https://replicate.delivery/a/out-0.png'],
        logs: ' 50%|█████',
      }),
      'text-to-image',
      {},
      [],
      NOW,
    );
    expect(early).toMatchObject({ status: 'running', progress: 0.5 });
    expect(early.outputs).toBeUndefined();
    const removed = prediction({
      status: 'succeeded',
      output: null,
      data_removed: true,
      input: {},
      logs: '',
    });
    const later = toSnapshot(removed, 'text-to-image', early.state as ReplicateState, [], NOW);
    expect(later.status).toBe('succeeded');
    expect(later.outputs?.map((o) => o.url)).toEqual(['https://replicate.delivery/a/out-0.png']);
    // The view keeps the input and logs genway saw before the upstream removed them.
    expect((later.state as ReplicateState).replicate).toMatchObject({
      input: { prompt: 'x' },
      logs: ' 50%|█████',
      data_removed: true,
    });

    const never = toSnapshot(removed, 'text-to-image', {}, [], NOW);
    expect(never.status).toBe('succeeded');
    expect(never.outputs).toBeUndefined();
    expect(never.error).toBeUndefined();
  });

  it('failed: the error string (secrets removed) as upstream_rejected', () => {
    const s = toSnapshot(
      prediction({ status: 'failed', error: 'NSFW content detected. token r8_abc_secret' }),
      'text-to-image',
      {},
      ['r8_abc_secret'],
      NOW,
    );
    expect(s.error).toEqual({
      code: 'upstream_rejected',
      message: 'NSFW content detected. token [redacted]',
    });
    const empty = toSnapshot(
      prediction({ status: 'failed', error: null }),
      'text-to-image',
      {},
      [],
      NOW,
    );
    expect(empty.error?.message).toBe('Replicate reported the prediction as failed');
    const object = toSnapshot(
      prediction({ status: 'failed', error: { msg: 'x' } }),
      'text-to-image',
      {},
      [],
      NOW,
    );
    expect(object.error?.message).toBe('{"msg":"x"}');
  });
});

describe('toSnapshot usage', () => {
  it('carries metrics.predict_time as the usage Replicate bills', () => {
    const done = toSnapshot(
      prediction({
        status: 'succeeded',
        output: [],
        metrics: { predict_time: 4.2, total_time: 9 },
      }),
      'text-to-image',
      {},
      [],
      NOW,
    );
    expect(done.usage).toEqual({ predictSeconds: 4.2 });
    const running = toSnapshot(prediction({ status: 'processing' }), 'text-to-image', {}, [], NOW);
    expect(running.usage).toBeUndefined();
  });
});

describe('deadlines on a create', () => {
  const now = 1_000_000;

  it("Cancel-After is the whole seconds left, never under Replicate's 5 s minimum", () => {
    expect(cancelAfterOf(now + 300_000, now)).toBe('300s');
    expect(cancelAfterOf(now + 29_200, now)).toBe('30s');
    expect(cancelAfterOf(now + 2000, now)).toBe('5s');
    expect(cancelAfterOf(now - 50, now)).toBe('5s');
  });

  it('Prefer: wait never holds the create past the deadline', () => {
    expect(preferWaitOf(5, undefined, now)).toBe(5);
    expect(preferWaitOf(5, now + 60_000, now)).toBe(5);
    expect(preferWaitOf(5, now + 2500, now)).toBe(2);
    expect(preferWaitOf(5, now + 900, now)).toBe(0);
  });
});
