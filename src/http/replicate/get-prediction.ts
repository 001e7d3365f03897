import { outputLinks } from '../output-links.js';
import { z } from 'zod';
import { ReplicatePredictionSchema } from '../../contracts/replicate.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { replicateProblemResponses } from './errors.js';
import { findPrediction, surfaceBase, renderPrediction } from './prediction.js';

export const PredictionIdParams = z.object({
  id: z.string().max(200).meta({
    description: 'The prediction id (genway task id); `[A-Za-z0-9_-]{1,64}`, anything else is 404',
    example: 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B',
  }),
});

export function getPredictionRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/predictions/:id',
    {
      schema: {
        tags: ['replicate-compatible'],
        summary: 'Get a prediction (Replicate API)',
        description:
          'The prediction as genway last saw it (genway polls Replicate in the background; reads never call it).',
        security: [{ gatewayKey: [] }],
        params: PredictionIdParams,
        response: { 200: ReplicatePredictionSchema, ...replicateProblemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const task = await findPrediction(deps.tasks, request.tenant, request.params.id);
      return renderPrediction(deps.models, task, surfaceBase(deps.config, request), {
        links: outputLinks(deps, request),
      });
    },
  );
}
