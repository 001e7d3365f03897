import type { FastifyInstance } from 'fastify';
import { GatewayKeys } from '../auth.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { cancelPredictionRoute } from './cancel-prediction.js';
import { createModelPredictionRoute } from './create-model-prediction.js';
import { createPredictionRoute } from './create-prediction.js';
import { registerReplicateErrors } from './errors.js';
import { getPredictionRoute } from './get-prediction.js';
import { listPredictionsRoute } from './list-predictions.js';
import { SURFACE_PREFIX } from './prediction.js';

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
export async function replicateSurface(app: GatewayApp, deps: RouteDeps): Promise<void> {
  await app.register(
    async (scope) => {
      const keys = new GatewayKeys(deps.config.tenants);
      registerReplicateErrors(scope as unknown as FastifyInstance);
      scope.decorateRequest('tenant', '');
      scope.addHook('onRequest', async (request) => {
        const header = request.headers.authorization;
        try {
          request.tenant = keys.authenticate(request);
        } catch {
          // Replicate's own wording, so clients that match on it keep working.
          throw new GatewayError(
            'unauthorized',
            header
              ? 'You did not pass a valid authentication token'
              : 'You did not pass an authentication token',
          );
        }
      });
      for (const route of [
        createPredictionRoute,
        createModelPredictionRoute,
        getPredictionRoute,
        cancelPredictionRoute,
        listPredictionsRoute,
      ]) {
        route(scope, deps);
      }
    },
    { prefix: SURFACE_PREFIX },
  );
}
