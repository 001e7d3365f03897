/**
 * When to ask an upstream about a task next. Pure: every function takes the time (`now`) and
 * a random source (`random`, like Math.random: [0, 1)), so the rules are tested exactly.
 */

export interface PollingPolicy {
  /**
   * Base interval before backoff. For a provider whose adapter has its own interval for the
   * operation (`pollIntervalMs`), that one applies instead, unless `intervalOverridesAdapters`
   * (POLL_INTERVAL_MS was set explicitly: tests and operators who want one interval).
   */
  intervalMs: number;
  intervalOverridesAdapters?: boolean;
  maxIntervalMs: number;
  unreachableDeadlineMs: number;
}

/** A source of numbers in [0, 1), as Math.random. */
export type RandomSource = () => number;

/** Where a task stands for its next poll time. */
export interface PollTiming {
  /** The adapter's own interval for the task's operation, if it has one (`pollIntervalMs`). */
  adapterIntervalMs: number | undefined;
  /** Polls made so far: the interval doubles every 10 as the task ages. */
  attempts: number;
}

/** The base interval of a task: the adapter's own for its operation, unless overridden. */
export function baseIntervalMs(policy: PollingPolicy, adapterIntervalMs?: number): number {
  if (policy.intervalOverridesAdapters) return policy.intervalMs;
  return adapterIntervalMs !== undefined && adapterIntervalMs > 0
    ? adapterIntervalMs
    : policy.intervalMs;
}

/**
 * Wait before the next poll: the base interval (see PollingPolicy), doubled every 10 polls as
 * the task ages (capped by maxIntervalMs), jittered ±10%. An upstream hint (an `eta`, a
 * Retry-After) is a floor: never ask before it, even when it exceeds maxIntervalMs (bounded
 * by the unreachable deadline), plus up to 10% so that tasks told the same do not bunch up.
 */
export function pollDelayMs(
  policy: PollingPolicy,
  timing: PollTiming,
  hintMs: number | undefined,
  random: RandomSource,
): number {
  const { maxIntervalMs, unreachableDeadlineMs } = policy;
  const intervalMs = Math.min(baseIntervalMs(policy, timing.adapterIntervalMs), maxIntervalMs);
  const aged = Math.min(maxIntervalMs, intervalMs * 2 ** Math.floor(timing.attempts / 10));
  const jittered = Math.round(aged * (0.9 + random() * 0.2));
  const hint = Math.min(hintMs ?? 0, unreachableDeadlineMs);
  return Math.max(jittered, Math.round(hint * (1 + random() * 0.1)));
}

/** When a task that just got an answer (or was created) is polled next. */
export function nextPollAt(
  now: number,
  policy: PollingPolicy,
  timing: PollTiming,
  hintMs: number | undefined,
  random: RandomSource,
): number {
  return now + pollDelayMs(policy, timing, hintMs, random);
}

/** What follows a transient poll failure: a retry time, or giving up (unreachable too long). */
export type RetryVerdict = { retryAt: number } | { unreachableForMs: number; deadlineMs: number };

/**
 * After a transient poll failure (`timing.attempts` counts the failed poll): past the
 * unreachable deadline since the upstream last answered, give up; else back off about as long
 * as the upstream has been failing (so retries double, capped by maxIntervalMs), but ask once
 * more right after the deadline so that the verdict comes on time. The usual poll delay (and
 * the upstream's Retry-After) is a floor.
 */
export function afterTransientFailure(
  now: number,
  policy: PollingPolicy,
  timing: PollTiming & { lastContactAt: number },
  retryAfterMs: number | undefined,
  random: RandomSource,
): RetryVerdict {
  const { unreachableDeadlineMs, maxIntervalMs } = policy;
  const failingFor = now - timing.lastContactAt;
  if (failingFor > unreachableDeadlineMs) {
    return { unreachableForMs: failingFor, deadlineMs: unreachableDeadlineMs };
  }
  const backoff = Math.min(
    maxIntervalMs,
    Math.round(failingFor * (0.9 + random() * 0.2)),
    unreachableDeadlineMs - failingFor + 1,
  );
  return { retryAt: now + Math.max(pollDelayMs(policy, timing, retryAfterMs, random), backoff) };
}

/**
 * A poll time bounded by the task's deadline (`timeout_seconds`, `Cancel-After`): no poll is
 * ever scheduled past it, so the poller takes the task up exactly at the deadline and ends it
 * there (see task-transitions `pastDeadline`). No deadline: `pollAt` as it is.
 */
export function boundedByDeadline(pollAt: number, deadlineAt: number | null | undefined): number {
  return deadlineAt == null ? pollAt : Math.min(pollAt, deadlineAt);
}

/** Whether a task with this deadline has reached it at `now`. */
export function isPastDeadline(now: number, deadlineAt: number | null | undefined): boolean {
  return deadlineAt != null && now >= deadlineAt;
}
