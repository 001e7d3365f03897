import { outputLinks } from '../output-links.js';
import { ReplicatePredictionSchema } from '../../contracts/replicate.js';
import { isGatewayError } from '../../errors/gateway-error.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { replicateProblemResponses } from './errors.js';
import { PredictionIdParams } from './get-prediction.js';
import { findPrediction, surfaceBase, renderPrediction } from './prediction.js';

export function cancelPredictionRoute(app: GatewayApp, deps: RouteDeps): void {
  app.post(
    '/predictions/:id/cancel',
    {
      schema: {
        tags: ['replicate-compatible'],
        summary: 'Cancel a prediction (Replicate API)',
        description:
          'Cancels the prediction on Replicate and answers with it, now `canceled`. Like Replicate, a finished prediction is answered unchanged (200). No body needed; an empty JSON body is accepted.',
        security: [{ gatewayKey: [] }],
        params: PredictionIdParams,
        response: {
          200: ReplicatePredictionSchema,
          ...replicateProblemResponses(400, 401, 404, 409, 415, 429, 502, 503, 504),
        },
      },
    },
    async (request) => {
      const base = surfaceBase(deps.config, request);
      const task = await findPrediction(deps.tasks, request.tenant, request.params.id);
      try {
        return renderPrediction(
          deps.models,
          await deps.tasks.cancel(request.tenant, task.id),
          base,
          { links: outputLinks(deps, request) },
        );
      } catch (err) {
        if (!isGatewayError(err) || err.code !== 'task_already_finished') throw err;
        return renderPrediction(deps.models, await deps.tasks.get(request.tenant, task.id), base, {
          links: outputLinks(deps, request),
        });
      }
    },
  );
}
