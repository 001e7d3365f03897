import type { SurfaceRoutes } from '../surface.js';
import { cancelPredictionRoute } from './cancel-prediction.js';
import { createModelPredictionRoute } from './create-model-prediction.js';
import { createPredictionRoute } from './create-prediction.js';
import { filesRoutes } from './files.js';
import { getPredictionRoute } from './get-prediction.js';
import { getWebhookSecretRoute } from './get-webhook-secret.js';
import { listPredictionsRoute } from './list-predictions.js';
import { REPLICATE_SURFACE } from './surface.js';

/**
 * `/replicate/v1`: Replicate's predictions API for clients that already speak it (the official
 * `replicate` npm client with `baseUrl: "<genway>/replicate/v1"` and a gateway key as `auth`).
 * Authenticated with a gateway key (`Bearer` or `Token`); every prediction is a genway task of
 * the replicate provider, scoped to the key's tenant. Errors use Replicate's problem shape.
 *
 * Output URLs are the provider's own (replicate.delivery serves them without auth, for 1 hour):
 * clients fetch them directly, as from Replicate. `GET /v1/tasks/{id}/outputs/{index}` serves
 * the same files through genway.
 */
export const replicateApi: SurfaceRoutes = {
  surface: REPLICATE_SURFACE,
  mounted: true,
  routes: [
    createPredictionRoute,
    createModelPredictionRoute,
    getPredictionRoute,
    cancelPredictionRoute,
    listPredictionsRoute,
    getWebhookSecretRoute,
    filesRoutes,
  ],
};
