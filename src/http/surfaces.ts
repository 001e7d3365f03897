import { openaiApi } from './openai/index.js';
import type { ModelRegistry } from '../domain/models.js';
import type { OutputLinks, TaskRecord } from '../domain/task-record.js';
import { replicateApi } from './replicate/index.js';
import {
  PREDICTION_WEBHOOK_FORMAT,
  predictionWebhookBody,
} from './replicate/prediction-webhook.js';
import { normalizedApi } from './routes/v1/index.js';
import type { Surface, SurfaceRoutes } from './surface.js';

/** Every API surface, in the order they are registered (and their tags listed in OpenAPI). */
export const SURFACE_ROUTES: readonly SurfaceRoutes[] = [normalizedApi, replicateApi, openaiApi];

export const SURFACES: readonly Surface[] = SURFACE_ROUTES.map((s) => s.surface);

/**
 * Webhook bodies of the compatible surfaces, by format name: a webhook asked for through
 * `/replicate/v1` carries the prediction object, not genway's task.
 */
export function surfaceWebhookBodies(
  models: ModelRegistry,
  linksUnder?: (base: string) => OutputLinks,
): ReadonlyMap<string, (task: TaskRecord, base: string) => unknown> {
  return new Map([[PREDICTION_WEBHOOK_FORMAT, predictionWebhookBody(models, linksUnder)]]);
}
