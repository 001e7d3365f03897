import { describe, expect, it } from 'vitest';
import {
  afterTransientFailure,
  baseIntervalMs,
  boundedByDeadline,
  isPastDeadline,
  nextPollAt,
  pollDelayMs,
  type PollingPolicy,
} from './poll-schedule.js';

const policy: PollingPolicy = {
  intervalMs: 1000,
  maxIntervalMs: 30_000,
  unreachableDeadlineMs: 600_000,
};
/** A random source that always answers `value` (0.5: no jitter either way). */
const fixed = (value: number) => () => value;
const middle = fixed(0.5);

describe('baseIntervalMs', () => {
  it("is the adapter's own interval for the operation when it has one", () => {
    expect(baseIntervalMs(policy, 5000)).toBe(5000);
  });

  it('is the policy interval when the adapter has none (or a useless one)', () => {
    expect(baseIntervalMs(policy, undefined)).toBe(1000);
    expect(baseIntervalMs(policy, 0)).toBe(1000);
  });

  it('is the policy interval when it overrides adapters (POLL_INTERVAL_MS set)', () => {
    expect(baseIntervalMs({ ...policy, intervalOverridesAdapters: true }, 5000)).toBe(1000);
  });
});

describe('pollDelayMs', () => {
  const timing = { adapterIntervalMs: undefined, attempts: 0 };

  it('is the base interval, jittered by ±10%', () => {
    expect(pollDelayMs(policy, timing, undefined, middle)).toBe(1000);
    expect(pollDelayMs(policy, timing, undefined, fixed(0))).toBe(900);
    expect(pollDelayMs(policy, timing, undefined, fixed(0.999999))).toBe(1100);
  });

  it('doubles every 10 polls as the task ages, up to maxIntervalMs', () => {
    const at = (attempts: number) =>
      pollDelayMs(policy, { adapterIntervalMs: undefined, attempts }, undefined, middle);
    expect(at(9)).toBe(1000);
    expect(at(10)).toBe(2000);
    expect(at(29)).toBe(4000);
    expect(at(100)).toBe(30_000);
  });

  it("caps an adapter's own interval at maxIntervalMs", () => {
    const delay = pollDelayMs(
      policy,
      { adapterIntervalMs: 60_000, attempts: 0 },
      undefined,
      middle,
    );
    expect(delay).toBe(30_000);
  });

  it("takes the upstream's hint as a floor, even above maxIntervalMs, plus up to 10%", () => {
    expect(pollDelayMs(policy, timing, 45_000, fixed(0))).toBe(45_000);
    expect(pollDelayMs(policy, timing, 45_000, middle)).toBe(47_250);
    // A hint below the interval changes nothing.
    expect(pollDelayMs(policy, timing, 200, middle)).toBe(1000);
  });

  it('bounds the hint by the unreachable deadline', () => {
    expect(pollDelayMs(policy, timing, 3_600_000, fixed(0))).toBe(600_000);
  });
});

describe('nextPollAt', () => {
  it('is now plus the delay', () => {
    const timing = { adapterIntervalMs: 2000, attempts: 0 };
    expect(nextPollAt(1_000_000, policy, timing, undefined, middle)).toBe(1_002_000);
  });
});

describe('afterTransientFailure', () => {
  const now = 10_000_000;
  const failing = (forMs: number, attempts = 1) => ({
    adapterIntervalMs: undefined,
    attempts,
    lastContactAt: now - forMs,
  });

  it('retries at least after the usual delay when the upstream just failed', () => {
    expect(afterTransientFailure(now, policy, failing(100), undefined, middle)).toEqual({
      retryAt: now + 1000,
    });
  });

  it('backs off about as long as the upstream has been failing, up to maxIntervalMs', () => {
    expect(afterTransientFailure(now, policy, failing(8000), undefined, middle)).toEqual({
      retryAt: now + 8000,
    });
    expect(afterTransientFailure(now, policy, failing(120_000), undefined, middle)).toEqual({
      retryAt: now + 30_000,
    });
  });

  it('asks once more right after the deadline, so the verdict comes on time', () => {
    const tight = { ...policy, intervalMs: 100, unreachableDeadlineMs: 10_000 };
    // Failing for 9.5 s: a 9.5 s backoff would overshoot; asked 1 ms past the deadline instead.
    expect(afterTransientFailure(now, tight, failing(9500), undefined, middle)).toEqual({
      retryAt: now + 501,
    });
    // The usual delay is still a floor.
    expect(afterTransientFailure(now, tight, failing(9999), undefined, middle)).toEqual({
      retryAt: now + 100,
    });
  });

  it("never retries before the upstream's Retry-After", () => {
    expect(afterTransientFailure(now, policy, failing(100), 20_000, fixed(0))).toEqual({
      retryAt: now + 20_000,
    });
  });

  it('gives up past the unreachable deadline since the last answer', () => {
    expect(afterTransientFailure(now, policy, failing(600_001), undefined, middle)).toEqual({
      unreachableForMs: 600_001,
      deadlineMs: 600_000,
    });
    expect(afterTransientFailure(now, policy, failing(600_000), undefined, middle)).toHaveProperty(
      'retryAt',
    );
  });
});

describe('deadlines (timeout_seconds, Cancel-After)', () => {
  it('never schedules a poll past the deadline: the last one is due at the deadline itself', () => {
    expect(boundedByDeadline(5000, 3000)).toBe(3000);
    expect(boundedByDeadline(2000, 3000)).toBe(2000);
    expect(boundedByDeadline(5000, null)).toBe(5000);
    expect(boundedByDeadline(5000, undefined)).toBe(5000);
  });

  it('a task is past its deadline from the deadline on; without one, never', () => {
    expect(isPastDeadline(2999, 3000)).toBe(false);
    expect(isPastDeadline(3000, 3000)).toBe(true);
    expect(isPastDeadline(9_999_999, null)).toBe(false);
  });
});
