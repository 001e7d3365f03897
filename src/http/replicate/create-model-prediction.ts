import { z } from 'zod';
import {
  ReplicateCreateModelPredictionSchema,
  ReplicatePredictionSchema,
} from '../../contracts/replicate.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { PreferHeaders } from './create-prediction.js';
import { replicateProblemResponses } from './errors.js';
import { CREATE_BODY_LIMIT, startPrediction } from './start-prediction.js';
import { CREATE_FAILURES } from '../surface.js';

const NAME = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'not a Replicate owner or model name');

export function createModelPredictionRoute(app: GatewayApp, deps: RouteDeps): void {
  app.post(
    '/models/:owner/:name/predictions',
    {
      bodyLimit: CREATE_BODY_LIMIT,
      schema: {
        tags: ['replicate-compatible'],
        summary: 'Create a prediction of an official model (Replicate API)',
        description:
          'Replicate\'s `POST /v1/models/{owner}/{name}/predictions` (what the official client\'s `run("owner/name")` calls).',
        security: [{ gatewayKey: [] }],
        headers: PreferHeaders,
        params: z.object({
          owner: NAME.meta({ example: 'black-forest-labs' }),
          name: NAME.meta({ example: 'flux-schnell' }),
        }),
        body: ReplicateCreateModelPredictionSchema,
        response: {
          201: ReplicatePredictionSchema.describe(
            'Created (finished already if `Prefer: wait` was enough)',
          ),
          202: ReplicatePredictionSchema.describe(
            'Created; the `Prefer: wait` ran out first (`starting`)',
          ),
          ...replicateProblemResponses(...CREATE_FAILURES, 404),
        },
      },
    },
    async (request, reply) => {
      const { owner, name } = request.params;
      const { input, webhook, webhook_events_filter } = request.body;
      return startPrediction(deps, request, reply, {
        ref: `${owner}/${name}`,
        input,
        webhook,
        webhook_events_filter,
      });
    },
  );
}
