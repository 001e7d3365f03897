import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { CALLBACK_STATE_KEY, type UpstreamSnapshot } from './ports.js';
import { CHANGE_HISTORY_LIMIT } from './task-record.js';
import {
  afterFailedPoll,
  applySnapshot,
  callbackStateOf,
  duration,
  failTask,
  isRetryable,
  isVisibleChange,
  movesForward,
  onlyWebhookStateDiffers,
  pastDeadline,
  recordChange,
  toTaskError,
  unreachableError,
  webhookEventsOf,
} from './task-transitions.js';
import { FIXTURE_T0, taskFixture } from './task-record.fixture.js';

const T0 = FIXTURE_T0;
const NOW = T0 + 60_000;

const task = taskFixture;

const snap = (over: Partial<UpstreamSnapshot>): UpstreamSnapshot => ({
  upstreamId: null,
  upstreamStatus: 'processing',
  status: 'running',
  ...over,
});

const pollIn = (ms: number) => (hint: number | undefined) => NOW + Math.max(ms, hint ?? 0);

describe('applySnapshot', () => {
  it('a running answer updates progress and schedules the next poll with the hint', () => {
    const next = applySnapshot(
      task(),
      snap({ progress: 0.5, pollAfterMs: 5000 }),
      NOW,
      pollIn(1000),
    );
    expect(next).toMatchObject({
      status: 'running',
      progress: 0.5,
      upstreamId: 'job_1',
      completedAt: null,
      nextPollAt: NOW + 5000,
    });
  });

  it('keeps the known progress when the answer has none', () => {
    expect(applySnapshot(task(), snap({}), NOW, pollIn(1000)).progress).toBe(0.2);
  });

  it('a success completes the task: progress 1, its outputs, no more polls', () => {
    const outputs = [
      { url: 'https://cdn.example/v.mp4', contentType: 'video/mp4', expiresAt: null },
    ];
    const next = applySnapshot(task(), snap({ status: 'succeeded', outputs }), NOW, pollIn(1000));
    expect(next).toMatchObject({ status: 'succeeded', progress: 1, outputs, completedAt: NOW });
    expect(next.nextPollAt).toBeNull();
  });

  it('a success without outputs keeps the stored ones (the upstream removed its data)', () => {
    const outputs = [
      { url: 'https://cdn.example/v.mp4', contentType: 'video/mp4', expiresAt: null },
    ];
    const done = task({ status: 'succeeded', outputs });
    expect(applySnapshot(done, snap({ status: 'succeeded' }), NOW, pollIn(1000)).outputs).toEqual(
      outputs,
    );
  });

  it('a failure without an error gets a generic upstream_error', () => {
    const next = applySnapshot(task(), snap({ status: 'failed' }), NOW, pollIn(1000));
    expect(next.error).toEqual({
      code: 'upstream_error',
      message: 'The provider reported a failure',
    });
    expect(next.outputs).toEqual([]);
  });

  it("replaces the adapter's state but keeps the callback state", () => {
    const withCallback = task({ upstreamState: { old: 1, [CALLBACK_STATE_KEY]: { h: 'x' } } });
    const next = applySnapshot(withCallback, snap({ state: { fresh: 2 } }), NOW, pollIn(1000));
    expect(next.upstreamState).toEqual({ fresh: 2, [CALLBACK_STATE_KEY]: { h: 'x' } });
    expect(callbackStateOf({ fields: {}, state: { h: 'y' } })).toEqual({
      [CALLBACK_STATE_KEY]: { h: 'y' },
    });
    expect(callbackStateOf(undefined)).toEqual({});
  });
});

describe('failing a task', () => {
  it('drops outputs and polls', () => {
    const error = { code: 'upstream_error', message: 'no' };
    expect(failTask(task(), error, NOW)).toMatchObject({
      status: 'failed',
      error,
      outputs: [],
      nextPollAt: null,
      completedAt: NOW,
    });
  });

  it('shows gateway errors and hides anything else', () => {
    expect(toTaskError(new GatewayError('upstream_timeout', 'slow'))).toEqual({
      code: 'upstream_timeout',
      message: 'slow',
    });
    expect(toTaskError(new Error('secret detail')).code).toBe('internal');
    expect(isRetryable(new Error('socket hang up'))).toBe(true);
  });

  it('says how long the upstream was unreachable', () => {
    const error = unreachableError('up', 720_000, 600_000, { code: 'x', message: 'reset' });
    expect(error.code).toBe('upstream_timeout');
    expect(error.message).toBe(
      'up could not be reached for 12 min (limit 10 min, UPSTREAM_UNREACHABLE_DEADLINE_MS); the task was given up. Last error: reset',
    );
    expect(duration(1500)).toBe('1.5 s');
  });
});

describe('afterFailedPoll', () => {
  const plan = {
    policy: { intervalMs: 1000, maxIntervalMs: 30_000, unreachableDeadlineMs: 60_000 },
    adapterIntervalMs: undefined,
    random: () => 0.5,
  };
  const at = { polledAt: NOW, failedAt: NOW + 10 };

  it('a transient failure counts the poll and retries later', () => {
    const failed = new GatewayError('upstream_unavailable', 'down', { retryable: true });
    const next = afterFailedPoll(task({ lastContactAt: NOW - 5000 }), failed, at, plan);
    expect(next).toMatchObject({ status: 'running', pollAttempts: 4, nextPollAt: NOW + 5000 });
  });

  it('a definitive failure fails the task with its error, when it was seen', () => {
    const refused = new GatewayError('upstream_error', 'no such job');
    expect(afterFailedPoll(task(), refused, at, plan)).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_error', message: 'no such job' },
      completedAt: NOW + 10,
    });
  });

  it('past the unreachable deadline the task is given up with upstream_timeout', () => {
    const next = afterFailedPoll(task({ lastContactAt: NOW - 61_000 }), new Error('x'), at, plan);
    expect(next.status).toBe('failed');
    expect(next.error?.code).toBe('upstream_timeout');
    expect(next.error?.message).toContain('up could not be reached for 61 s');
  });
});

describe('movesForward (callbacks)', () => {
  it('a later status moves forward, an earlier or equal one does not', () => {
    expect(movesForward(task(), snap({ status: 'succeeded' }))).toBe(true);
    expect(movesForward(task({ status: 'succeeded' }), snap({ status: 'running' }))).toBe(false);
    expect(movesForward(task({ status: 'succeeded' }), snap({ status: 'failed' }))).toBe(false);
  });

  it('while running, only more progress moves forward', () => {
    expect(movesForward(task(), snap({ progress: 0.3 }))).toBe(true);
    expect(movesForward(task(), snap({ progress: 0.2 }))).toBe(false);
  });
});

describe('recordChange', () => {
  let n = 0;
  const ids = () => `msg_${++n}`;

  it('records nothing when neither status nor progress changed', () => {
    const prev = task();
    const same = { ...prev, upstreamStatus: 'still processing' };
    expect(recordChange(same, prev, NOW, ids)).toBe(same);
    expect(isVisibleChange(prev, same)).toBe(true);
    expect(isVisibleChange(prev, { ...prev, pollAttempts: 9 })).toBe(false);
  });

  it('numbers a change and keeps the last CHANGE_HISTORY_LIMIT', () => {
    const prev = task();
    const next = recordChange({ ...prev, progress: 0.4 }, prev, NOW, ids);
    expect(next.changeSeq).toBe(3);
    expect(next.changes.at(-1)).toEqual({ seq: 3, at: NOW, status: 'running', progress: 0.4 });

    const long = task({
      changeSeq: CHANGE_HISTORY_LIMIT,
      changes: Array.from({ length: CHANGE_HISTORY_LIMIT }, (_, i) => ({
        seq: i + 1,
        at: T0,
        status: 'running' as const,
        progress: i / 100,
      })),
    });
    const kept = recordChange({ ...long, progress: 0.9 }, long, NOW, ids).changes;
    expect(kept).toHaveLength(CHANGE_HISTORY_LIMIT);
    expect(kept[0]?.seq).toBe(2);
  });

  it('schedules a webhook delivery for a subscribed event, due now', () => {
    const webhook = {
      url: 'https://hooks.example/x',
      events: ['task.succeeded' as const],
      deliveries: [],
    };
    const prev = task({ webhook });
    const done = recordChange(
      { ...prev, status: 'succeeded', progress: 1 },
      prev,
      NOW,
      () => 'msg_a',
    );
    expect(done.webhook?.deliveries).toEqual([
      expect.objectContaining({
        id: 'msg_a',
        event: 'task.succeeded',
        status: 'pending',
        nextAttemptAt: NOW,
      }),
    ]);
    expect(done.webhook?.deliveries[0]?.payload).toMatchObject({
      id: 'task_1',
      status: 'succeeded',
      webhook: null,
    });
    expect(done.nextWebhookAt).toBe(NOW);
    // Progress is not subscribed: no delivery.
    const progressed = recordChange({ ...prev, progress: 0.5 }, prev, NOW, ids);
    expect(progressed.webhook?.deliveries).toEqual([]);
    expect(progressed.nextWebhookAt).toBeNull();
  });

  it('raises running, progress and terminal events', () => {
    const queued = task({ status: 'queued', progress: null });
    expect(webhookEventsOf(queued, task())).toEqual(['task.running']);
    expect(webhookEventsOf(task(), task({ progress: 0.7 }))).toEqual(['task.progress']);
    expect(webhookEventsOf(task(), task({ status: 'canceled' }))).toEqual(['task.canceled']);
    expect(webhookEventsOf(task(), task({ upstreamStatus: 'x' }))).toEqual([]);
  });
});

describe('onlyWebhookStateDiffers', () => {
  it('tells the dispatcher bookkeeping apart from other writes', () => {
    const webhook = { url: 'https://hooks.example/x', events: [], deliveries: [] };
    const prev = task({ webhook });
    const claimed = { ...prev, version: 5, nextWebhookAt: NOW + 30_000 };
    expect(onlyWebhookStateDiffers(prev, claimed)).toBe(true);
    expect(onlyWebhookStateDiffers(prev, { ...claimed, progress: 0.9 })).toBe(false);
  });
});

describe('deadlines', () => {
  const deadlineAt = T0 + 2000;

  it('never schedules the next poll past the deadline, after an answer or a failed poll', () => {
    const running = task({ deadlineAt });
    expect(applySnapshot(running, snap({}), T0 + 500, () => T0 + 5000).nextPollAt).toBe(deadlineAt);
    expect(applySnapshot(running, snap({}), T0 + 500, () => T0 + 900).nextPollAt).toBe(T0 + 900);
    const plan = {
      policy: { intervalMs: 1000, maxIntervalMs: 30_000, unreachableDeadlineMs: 600_000 },
      adapterIntervalMs: undefined,
      random: () => 0.5,
    };
    const err = new GatewayError('upstream_unavailable', 'down', { retryable: true });
    const at = { polledAt: T0 + 1500, failedAt: T0 + 1500 };
    expect(afterFailedPoll(running, err, at, plan).nextPollAt).toBe(deadlineAt);
  });

  it('a job the upstream canceled at the deadline ends canceled with deadline_exceeded', () => {
    const ended = pastDeadline(
      task({ deadlineAt }),
      { kind: 'answered', answer: snap({ status: 'canceled', upstreamStatus: 'canceled' }) },
      deadlineAt,
    );
    expect(ended).toMatchObject({
      status: 'canceled',
      nextPollAt: null,
      completedAt: deadlineAt,
      upstreamStatus: 'canceled',
      error: { code: 'deadline_exceeded' },
    });
    expect(ended.error?.message).toContain('(2 s)');
  });

  it('a job that finished before the cancel keeps its outcome', () => {
    const outputs = [{ url: 'https://cdn/v.mp4', contentType: 'video/mp4', expiresAt: null }];
    const answer = snap({ status: 'succeeded', upstreamStatus: 'succeeded', outputs });
    const ended = pastDeadline(task({ deadlineAt }), { kind: 'answered', answer }, deadlineAt);
    expect(ended).toMatchObject({ status: 'succeeded', outputs, error: null, nextPollAt: null });
  });

  it('without a cancel API, or when the cancel fails or does not end it, the task fails', () => {
    for (const cancel of [
      { kind: 'unsupported' as const },
      { kind: 'failed' as const },
      {
        kind: 'answered' as const,
        answer: snap({ status: 'running', upstreamStatus: 'processing' }),
      },
    ]) {
      const ended = pastDeadline(task({ deadlineAt }), cancel, deadlineAt + 5);
      expect(ended).toMatchObject({
        status: 'failed',
        outputs: [],
        nextPollAt: null,
        completedAt: deadlineAt + 5,
        error: { code: 'deadline_exceeded' },
      });
    }
    const unsupported = pastDeadline(task({ deadlineAt }), { kind: 'unsupported' }, deadlineAt);
    expect(unsupported.error?.message).toMatch(/up has no cancel API/);
  });
});
