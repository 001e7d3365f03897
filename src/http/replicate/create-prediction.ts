import { z } from 'zod';
import {
  ReplicateCreatePredictionSchema,
  ReplicatePredictionSchema,
} from '../../contracts/replicate.js';
import { IdempotencyKeyHeaderSchema } from '../idempotency.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { replicateProblemResponses } from './errors.js';
import { CREATE_BODY_LIMIT, startPrediction } from './start-prediction.js';
import { CREATE_FAILURES } from '../surface.js';

export const PreferHeaders = z.looseObject({
  prefer: z.string().optional().meta({
    description:
      '`wait` or `wait=N` (1-60): hold the answer up to N s (60 without N) for the prediction to finish; an unfinished one is answered `starting` with 202',
    example: 'wait=10',
  }),
  'idempotency-key': IdempotencyKeyHeaderSchema,
  'cancel-after': z.string().optional().meta({
    description:
      "A deadline in Replicate's syntax (`30s`, `5m`, `1h30m`; 5 s to 24 h). Past it the prediction is canceled (at Replicate too, which is told the same deadline) and ends `canceled`; a malformed value is a 400.",
    example: '5m',
  }),
});

export function createPredictionRoute(app: GatewayApp, deps: RouteDeps): void {
  app.post(
    '/predictions',
    {
      bodyLimit: CREATE_BODY_LIMIT,
      schema: {
        tags: ['replicate-compatible'],
        summary: 'Create a prediction (Replicate API)',
        description:
          "Replicate's `POST /v1/predictions`: `version` is a 64-hex version id (what the official client sends), `owner/name:<version id>`, or `owner/name` of an official model. `input` goes to Replicate as it is. Recorded as a genway task of the replicate provider, whose id is the prediction id.",
        security: [{ gatewayKey: [] }],
        headers: PreferHeaders,
        body: ReplicateCreatePredictionSchema,
        response: {
          201: ReplicatePredictionSchema.describe(
            'Created (finished already if `Prefer: wait` was enough)',
          ),
          202: ReplicatePredictionSchema.describe(
            'Created; the `Prefer: wait` ran out first (`starting`)',
          ),
          ...replicateProblemResponses(...CREATE_FAILURES),
        },
      },
    },
    async (request, reply) => {
      const { version, input, webhook, webhook_events_filter } = request.body;
      return startPrediction(deps, request, reply, {
        ref: version,
        input,
        webhook,
        webhook_events_filter,
      });
    },
  );
}
