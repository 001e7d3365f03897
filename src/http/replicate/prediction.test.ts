import { describe, expect, it } from 'vitest';
import type { TaskRecord } from '../../domain/task-record.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { toReplicateProblem } from './errors.js';
import { preferWait, toPrediction } from './prediction.js';

const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
const BASE = 'https://gw.example/replicate/v1';

const task = (over: Partial<TaskRecord> = {}): TaskRecord => ({
  id: 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B',
  tenant: 't',
  type: 'text-to-image',
  model: `replicate/stability-ai/stable-diffusion:${SD}`,
  provider: 'replicate',
  status: 'queued',
  progress: null,
  outputs: [],
  error: null,
  upstreamId: 'upstream-id',
  upstreamStatus: 'starting',
  metadata: {},
  createdAt: Date.parse('2026-01-01T00:00:00Z'),
  updatedAt: Date.parse('2026-01-01T00:00:00Z'),
  completedAt: null,
  credentialId: 'r1',
  upstreamState: {},
  nextPollAt: null,
  pollAttempts: 0,
  lastContactAt: 0,
  changeSeq: 0,
  changes: [],
  webhook: null,
  nextWebhookAt: null,
  version: 1,
  ...over,
});

describe('preferWait', () => {
  it('reads wait and wait=N, clamped to 1..max', () => {
    expect(preferWait(undefined, 60)).toBeUndefined();
    expect(preferWait('respond-async', 60)).toBeUndefined();
    expect(preferWait('wait', 60)).toBe(60);
    expect(preferWait('wait', 30)).toBe(30);
    expect(preferWait('wait=5', 60)).toBe(5);
    expect(preferWait('wait=0', 60)).toBe(1);
    expect(preferWait('wait=999', 60)).toBe(60);
    expect(preferWait('handling=lenient, wait=7', 60)).toBe(7);
  });
});

describe('toPrediction', () => {
  it('falls back on the task model when the adapter view is missing', () => {
    const p = toPrediction(task(), {}, BASE);
    expect(p).toMatchObject({
      model: 'stability-ai/stable-diffusion',
      version: SD,
      status: 'starting',
      input: {},
      logs: '',
      output: null,
    });
    expect(
      toPrediction(task({ model: 'replicate/black-forest-labs/flux-schnell' }), {}, BASE).version,
    ).toBe('hidden');
  });

  it('speaks Replicate statuses; aborted upstream is canceled here', () => {
    expect(toPrediction(task({ status: 'running' }), {}, BASE).status).toBe('processing');
    expect(toPrediction(task({ status: 'running' }), {}, BASE, { created: true }).status).toBe(
      'starting',
    );
    const aborted = task({
      status: 'canceled',
      upstreamStatus: 'aborted',
      completedAt: Date.now(),
    });
    expect(toPrediction(aborted, {}, BASE).status).toBe('canceled');
  });

  it('renders one URL or a list as the model did, and data_removed without outputs', () => {
    const outputs = [
      { url: 'https://replicate.delivery/a/out.mp4', contentType: 'video/mp4', expiresAt: null },
    ];
    const done = { status: 'succeeded' as const, completedAt: Date.parse('2026-01-01T00:00:05Z') };
    const view = (kind: string | null, removed = false) => ({
      output_kind: kind,
      data_removed: removed,
      metrics: { predict_time: 2 },
    });
    expect(toPrediction(task({ ...done, outputs }), view('string'), BASE).output).toBe(
      'https://replicate.delivery/a/out.mp4',
    );
    const list = toPrediction(task({ ...done, outputs }), view('list'), BASE);
    expect(list.output).toEqual(['https://replicate.delivery/a/out.mp4']);
    expect(list.metrics).toEqual({ predict_time: 2, total_time: 5 });
    const removed = toPrediction(task({ ...done }), view('list', true), BASE);
    expect(removed).toMatchObject({ output: null, data_removed: true });
    const kept = toPrediction(task({ ...done, outputs }), view('list', true), BASE);
    expect(kept).toMatchObject({ output: [outputs[0]!.url], data_removed: false });
  });

  it('points urls at genway', () => {
    const p = toPrediction(task(), {}, BASE);
    expect(p.urls).toEqual({
      get: `${BASE}/predictions/task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B`,
      cancel: `${BASE}/predictions/task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B/cancel`,
      web: 'https://gw.example/v1/tasks/task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B',
    });
  });

  it('a failed task carries its error message as the error string', () => {
    const failed = task({
      status: 'failed',
      completedAt: Date.now(),
      error: { code: 'upstream_rejected', message: 'NSFW content detected.' },
    });
    expect(toPrediction(failed, {}, BASE)).toMatchObject({
      status: 'failed',
      error: 'NSFW content detected.',
    });
  });
});

describe('toReplicateProblem', () => {
  it('uses Replicate titles and statuses where clients look at them', () => {
    expect(toReplicateProblem(new GatewayError('unauthorized', 'no token'))).toEqual({
      title: 'Unauthenticated',
      detail: 'no token',
      status: 401,
    });
    expect(
      toReplicateProblem(GatewayError.invalid([{ path: 'version', message: 'Required' }])),
    ).toMatchObject({
      title: 'Input validation failed',
      status: 422,
      invalid_fields: [{ field: 'version', description: 'Required', type: 'invalid' }],
    });
    expect(
      toReplicateProblem(
        GatewayError.invalid([{ path: 'querystring.cursor', message: 'Invalid cursor.' }]),
      ).status,
    ).toBe(400);
    expect(toReplicateProblem(new GatewayError('model_not_found', 'x')).title).toBe(
      'Invalid version or not permitted',
    );
    expect(toReplicateProblem(new GatewayError('upstream_auth_failed', 'x'))).toMatchObject({
      status: 502,
    });
  });
});
