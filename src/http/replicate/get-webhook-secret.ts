import { WebhookSecretSchema } from '../../contracts/common.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { webhookSecretOf } from '../webhook-secret.js';
import { replicateProblemResponses } from './errors.js';

/**
 * Replicate's `GET /v1/webhooks/default/secret`: the caller tenant's signing secret, so that the
 * official client's `validateWebhook` verifies the webhooks of `/replicate/v1` predictions.
 */
export function getWebhookSecretRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/webhooks/default/secret',
    {
      config: { disclosesTenantWebhookSecret: true },
      schema: {
        tags: ['replicate-compatible'],
        summary: 'Get the signing secret for the default webhook (Replicate API)',
        description:
          'The `whsec_` secret that signs the caller tenant\'s webhooks, as Replicate answers it (`{ "key": "whsec_..." }`); the same as `GET /v1/webhooks/secret`. Each tenant has its own. 404 when webhooks are not enabled for the tenant.',
        security: [{ gatewayKey: [] }],
        response: { 200: WebhookSecretSchema, ...replicateProblemResponses(401, 404) },
      },
    },
    async (request, reply) => {
      const key = webhookSecretOf(deps.config, request.tenant);
      return reply.header('cache-control', 'no-store').send({ key });
    },
  );
}
