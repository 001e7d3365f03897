import { describe, expect, it } from 'vitest';
import { predictionWebhook, taskEventsOf } from './prediction-webhook.js';

describe('prediction webhooks', () => {
  it("maps Replicate's events filter onto task events, each once; no filter means all", () => {
    expect(taskEventsOf(['completed'])).toEqual(['task.succeeded', 'task.failed', 'task.canceled']);
    expect(taskEventsOf(['start', 'completed'])).toEqual([
      'task.running',
      'task.succeeded',
      'task.failed',
      'task.canceled',
    ]);
    expect(taskEventsOf(['output', 'completed'])).toEqual([
      'task.succeeded',
      'task.failed',
      'task.canceled',
    ]);
    expect(taskEventsOf(undefined).sort()).toEqual(
      ['task.running', 'task.progress', 'task.succeeded', 'task.failed', 'task.canceled'].sort(),
    );
  });

  it('renders bodies in the prediction format, with links under the surface base', () => {
    expect(predictionWebhook('https://h.example/x', ['logs'], 'https://gw/replicate/v1')).toEqual({
      url: 'https://h.example/x',
      events: ['task.progress'],
      format: { name: 'replicate-prediction', base: 'https://gw/replicate/v1' },
    });
  });
});
