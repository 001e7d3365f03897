import { describe, expect, it } from 'vitest';
import { MAX_TASK_OUTPUTS, type TaskRecord } from './task-record.js';
import { applySnapshot } from './task-transitions.js';

describe('applySnapshot', () => {
  it('keeps at most MAX_TASK_OUTPUTS outputs of a succeeded snapshot', () => {
    const task = {
      status: 'running',
      progress: 0.5,
      outputs: [],
      upstreamState: {},
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
  });
});
