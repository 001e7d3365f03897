import { describe, expect, it } from 'vitest';
import { MAX_TASK_OUTPUTS, toPublicTask, type TaskRecord } from './task-record.js';
import { applySnapshot } from './task-transitions.js';

describe('applySnapshot', () => {
  it('keeps at most MAX_TASK_OUTPUTS outputs of a succeeded snapshot', () => {
    const task = {
      status: 'running',
      progress: 0.5,
      outputs: [],
      upstreamState: {},
      metadata: {},
      createdAt: 0,
      updatedAt: 0,
      completedAt: null,
      webhook: null,
      changes: [],
      changeSeq: 1,
    } as unknown as TaskRecord;
    const outputs = Array.from({ length: 10_000 }, (_, i) => ({
      url: `https://cdn.example/${i}.png`,
      contentType: 'image/png',
      expiresAt: null,
    }));
    const next = applySnapshot(
      task,
      { upstreamId: 'u', upstreamStatus: 'succeeded', status: 'succeeded', outputs },
      1000,
      () => 0,
    );
    expect(next.outputs).toHaveLength(MAX_TASK_OUTPUTS);
    expect(next.outputsOmitted).toBe(10_000 - MAX_TASK_OUTPUTS);
    // A later answer without outputs (data removed upstream) keeps both.
    const later = applySnapshot(
      next,
      { upstreamId: 'u', upstreamStatus: 'succeeded', status: 'succeeded' },
      2000,
      () => 0,
    );
    expect(later.outputs).toHaveLength(MAX_TASK_OUTPUTS);
    expect(later.outputsOmitted).toBe(10_000 - MAX_TASK_OUTPUTS);
    expect(toPublicTask(later).outputs_omitted).toBe(10_000 - MAX_TASK_OUTPUTS);
  });
});
