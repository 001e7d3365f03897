import { describe, expect, it } from 'vitest';
import {
  chargeOf,
  estimateCost,
  fromMicros,
  priceFor,
  toMicros,
  type FinishedTask,
  type PriceEntry,
} from './pricing.js';

const acme = { requested: 'acme/v5', publicId: 'acme/v5', provider: 'acme' };

const prices: PriceEntry[] = [
  { model: 'acme/*', unit: 'per_task', usd: 0.5 },
  { model: 'acme/*', operation: 'image-to-video', unit: 'per_task', usd: 0.6 },
  { model: 'acme/v5', unit: 'per_second', usd: 0.1 },
  { model: 'acme/v5', operation: 'text-to-video', unit: 'per_second', usd: 0.12 },
  { model: 'initech/*', unit: 'per_predict_second', usd: 0.001, estimateSeconds: 30 },
];

const finished = (fields: Partial<FinishedTask>): FinishedTask => ({
  status: 'succeeded',
  upstreamId: 'up-1',
  errorCode: null,
  outputCount: 1,
  usage: undefined,
  estimated: 1.5,
  ...fields,
});

describe('priceFor: the most specific entry wins', () => {
  it('prefers an exact id with the operation, then an exact id, then a pattern', () => {
    expect(priceFor(prices, acme, 'text-to-video')?.usd).toBe(0.12);
    expect(priceFor(prices, acme, 'image-to-video')?.usd).toBe(0.1);
    const v4 = { requested: 'acme/v4', publicId: 'acme/v4', provider: 'acme' };
    expect(priceFor(prices, v4, 'image-to-video')?.usd).toBe(0.6);
    expect(priceFor(prices, v4, 'text-to-video')?.usd).toBe(0.5);
    const umbrella = { requested: 'umbrella', publicId: 'umbrella/gen2', provider: 'umbrella' };
    expect(priceFor(prices, umbrella, 'text-to-video')).toBeUndefined();
  });

  it('takes the first of equally specific entries', () => {
    const twice: PriceEntry[] = [
      { model: 'acme/*', unit: 'per_task', usd: 1 },
      { model: 'acme/*', unit: 'per_task', usd: 2 },
    ];
    expect(priceFor(twice, acme, 'text-to-video')?.usd).toBe(1);
  });
});

describe('estimateCost', () => {
  it('counts images, seconds of video, tasks and assumed predict seconds', () => {
    expect(estimateCost({ model: 'm', unit: 'per_image', usd: 0.02 }, { num_outputs: 3 })).toBe(
      0.06,
    );
    expect(estimateCost({ model: 'm', unit: 'per_image', usd: 0.02 }, {})).toBe(0.02);
    expect(estimateCost({ model: 'm', unit: 'per_second', usd: 0.1 }, { duration: 8 })).toBe(0.8);
    expect(estimateCost({ model: 'm', unit: 'per_second', usd: 0.1 }, {})).toBe(0.5);
    expect(estimateCost({ model: 'm', unit: 'per_task', usd: 0.3 }, { duration: 8 })).toBe(0.3);
    expect(estimateCost(prices[4], {})).toBe(0.03);
    expect(estimateCost(undefined, {})).toBeNull();
  });
});

describe('chargeOf', () => {
  const perSecond = prices[3];
  it('charges the estimate when the upstream reports no usage, also for a failure after start', () => {
    expect(chargeOf(perSecond, finished({}))).toBe(1.5);
    expect(
      chargeOf(perSecond, finished({ status: 'failed', errorCode: 'upstream_rejected' })),
    ).toBe(1.5);
  });

  it('charges nothing on a refund or when no job was started', () => {
    const refund = finished({ status: 'failed', usage: { refunded: true } });
    expect(chargeOf(perSecond, refund)).toBe(0);
    const refused = finished({
      status: 'failed',
      upstreamId: null,
      errorCode: 'upstream_rejected',
    });
    expect(chargeOf(perSecond, refused)).toBe(0);
    expect(chargeOf(undefined, refused)).toBe(0);
  });

  it('charges an outcome genway cannot know', () => {
    const unknown = finished({
      status: 'failed',
      upstreamId: null,
      errorCode: 'upstream_outcome_unknown',
    });
    expect(chargeOf(perSecond, unknown)).toBe(1.5);
  });

  it('charges actual usage where the upstream reports it', () => {
    const ran = finished({ usage: { predictSeconds: 4.2 }, estimated: 0.03 });
    expect(chargeOf(prices[4], ran)).toBe(0.0042);
    const images = { model: 'm', unit: 'per_image' as const, usd: 0.02 };
    expect(chargeOf(images, finished({ outputCount: 2, estimated: 0.08 }))).toBe(0.04);
  });

  it('has no charge without a price, except a provable zero', () => {
    expect(chargeOf(undefined, finished({ estimated: null }))).toBeNull();
  });

  it('counts money in exact micro-dollars', () => {
    let sum = 0;
    for (let i = 0; i < 10; i++) sum += toMicros(0.1);
    expect(fromMicros(sum)).toBe(1);
  });
});
