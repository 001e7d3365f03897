import { describe, expect, it } from 'vitest';
import { MAX_TASK_OUTPUTS } from '../../domain/task-record.js';
import { keptInput, toSnapshot } from './mapping.js';
import type { ReplicatePrediction } from './wire.js';

const NOW = Date.UTC(2026, 0, 1);
const answer = (over: Partial<ReplicatePrediction>): ReplicatePrediction =>
  ({ id: 'p1', status: 'processing', output: null, ...over }) as ReplicatePrediction;

describe('Replicate answers on the task record are bounded', () => {
  it('keeps at most MAX_TASK_OUTPUTS outputs, running or succeeded', () => {
    const output = Array.from({ length: 5000 }, (_, i) => `https://replicate.delivery/x/${i}.png`);
    const running = toSnapshot(answer({ output }), 'text-to-image', {}, [], NOW);
    const early = (running.state as { early_outputs?: unknown[] }).early_outputs;
    expect(early).toHaveLength(MAX_TASK_OUTPUTS);
    const done = toSnapshot(answer({ status: 'succeeded', output }), 'text-to-image', {}, [], NOW);
    expect(done.outputs!.length).toBeLessThanOrEqual(5000);
  });

  it('drops early_outputs from the state once the prediction succeeded', () => {
    const output = ['https://replicate.delivery/x/0.png'];
    const running = toSnapshot(answer({ output }), 'text-to-image', {}, [], NOW);
    expect(running.state).toHaveProperty('early_outputs');
    const done = toSnapshot(
      answer({ status: 'succeeded', output: null }),
      'text-to-image',
      running.state as never,
      [],
      NOW,
    );
    // The outputs seen earlier become the task's, and leave the state.
    expect(done.outputs).toHaveLength(1);
    expect(done.state).not.toHaveProperty('early_outputs');
  });

  it('keeps a size-capped copy of nested inputs', () => {
    const deep = { list: Array.from({ length: 10_000 }, (_, i) => ({ i })) };
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`f${i}`, i]));
    const kept = keptInput({ nested: deep, small: { a: 1 }, ...many });
    expect(kept.nested).toMatch(/not kept by genway/);
    expect(kept.small).toEqual({ a: 1 });
    expect(Object.keys(kept).length).toBeLessThanOrEqual(100);
    expect(JSON.stringify(kept).length).toBeLessThan(10_000);
  });
});
