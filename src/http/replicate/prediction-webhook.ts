import type { ModelRegistry } from '../../domain/models.js';
import type {
  OutputLinks,
  TaskRecord,
  WebhookEvent,
  WebhookFormat,
} from '../../domain/task-record.js';
import { renderPrediction, SURFACE_PREFIX } from './prediction.js';

/** `WebhookFormat.name` of webhooks asked for through `/replicate/v1`: the body is the prediction. */
export const PREDICTION_WEBHOOK_FORMAT = 'replicate-prediction';

export type PredictionWebhookEvent = 'start' | 'output' | 'logs' | 'completed';

/**
 * Replicate's `webhook_events_filter` in genway's task events: `start` when the prediction starts
 * processing, `logs` on each progress change read from its logs, `output` when its outputs
 * arrive (genway has them once it succeeded) and `completed` on every terminal status. No filter:
 * every event, as Replicate does.
 */
const TASK_EVENTS: Readonly<Record<PredictionWebhookEvent, readonly WebhookEvent[]>> = {
  start: ['task.running'],
  logs: ['task.progress'],
  output: ['task.succeeded'],
  completed: ['task.succeeded', 'task.failed', 'task.canceled'],
};

/** The task events (each once) a prediction webhook with this filter is sent on. */
export function taskEventsOf(
  filter: readonly PredictionWebhookEvent[] | undefined,
): WebhookEvent[] {
  const asked = filter ?? (Object.keys(TASK_EVENTS) as PredictionWebhookEvent[]);
  return [...new Set(asked.flatMap((event) => TASK_EVENTS[event]))];
}

/** The webhook subscription of a prediction created with `webhook` (links under `base`). */
export function predictionWebhook(
  url: string,
  filter: readonly PredictionWebhookEvent[] | undefined,
  base: string,
): { url: string; events: WebhookEvent[]; format: WebhookFormat } {
  return { url, events: taskEventsOf(filter), format: { name: PREDICTION_WEBHOOK_FORMAT, base } };
}

/**
 * The body of a prediction webhook: the prediction as `GET /replicate/v1/predictions/{id}`
 * answers it (TaskWriterDeps.webhookBodies registers it under PREDICTION_WEBHOOK_FORMAT).
 */
export function predictionWebhookBody(
  models: ModelRegistry,
  linksUnder?: (base: string) => OutputLinks,
): (task: TaskRecord, base: string) => unknown {
  // Stored outputs get signed media links under genway's base (the surface base without its
  // prefix); made when the message is written, valid for MEDIA_LINK_TTL (longer than retries).
  const origin = (base: string) =>
    base.endsWith(SURFACE_PREFIX) ? base.slice(0, -SURFACE_PREFIX.length) : base;
  return (task, base) =>
    renderPrediction(models, task, base, { links: linksUnder?.(origin(base)) });
}
