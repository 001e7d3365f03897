import type { TaskRecord } from './task-record.js';

/** The clock origin of the fixture's times. */
export const FIXTURE_T0 = Date.UTC(2026, 0, 1);

/**
 * A complete task record for the domain's unit tests: a running text-to-video task of
 * provider `up`, polled three times, with two changes. Tests override what they are about.
 */
export function taskFixture(over: Partial<TaskRecord> = {}): TaskRecord {
  const T0 = FIXTURE_T0;
  return {
    id: 'task_1',
    tenant: 't',
    type: 'text-to-video',
    model: 'up/m1',
    provider: 'up',
    status: 'running',
    progress: 0.2,
    outputs: [],
    error: null,
    upstreamId: 'job_1',
    upstreamStatus: 'processing',
    metadata: {},
    createdAt: T0,
    updatedAt: T0,
    completedAt: null,
    credentialId: 'up-1',
    upstreamState: {},
    nextPollAt: T0 + 1000,
    pollAttempts: 3,
    lastContactAt: T0,
    version: 4,
    changeSeq: 2,
    changes: [
      { seq: 1, at: T0, status: 'queued', progress: null },
      { seq: 2, at: T0, status: 'running', progress: 0.2 },
    ],
    webhook: null,
    nextWebhookAt: null,
    ...over,
  };
}
