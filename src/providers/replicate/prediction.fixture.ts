import type { ReplicatePrediction } from './wire.js';

/** The Stable Diffusion version id the Replicate tests use. */
export const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';

/**
 * A `starting` prediction as Replicate answers it, for the Replicate unit tests; tests
 * override what they are about.
 */
export const predictionFixture = (over: Record<string, unknown> = {}): ReplicatePrediction =>
  ({
    id: 'gm3qorzdhgbfurvjtvhg6dckhu',
    model: 'stability-ai/stable-diffusion',
    version: SD,
    input: { prompt: 'x' },
    logs: '',
    output: null,
    error: null,
    status: 'starting',
    data_removed: false,
    created_at: '2026-01-01T00:00:00.000Z',
    started_at: null,
    completed_at: null,
    urls: { get: 'https://evil.example/predictions/x' },
    ...over,
  }) as ReplicatePrediction;
