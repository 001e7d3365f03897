import { WebhookSecretSchema } from '../../../contracts/common.js';
import { problemResponses } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { webhookSecretOf } from '../../webhook-secret.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The answer carries the caller tenant's own webhook signing secret (and only its own). */
    disclosesTenantWebhookSecret?: boolean;
  }
}

/** GET /v1/webhooks/secret: the caller tenant's signing secret, to verify genway's webhooks. */
export function getWebhookSecretRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/v1/webhooks/secret',
    {
      config: { disclosesTenantWebhookSecret: true },
      schema: {
        tags: ['webhooks'],
        summary: "Get your tenant's webhook signing secret",
        description:
          "The `whsec_` secret that signs the webhooks of the caller tenant's tasks (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), on every surface. Each tenant has its own (configured per tenant, or derived from WEBHOOK_SECRET); no key can read another tenant's. The same secret as `GET /replicate/v1/webhooks/default/secret`. 404 when webhooks are not enabled for the tenant.",
        security: [{ gatewayKey: [] }],
        response: { 200: WebhookSecretSchema, ...problemResponses(401, 404) },
      },
    },
    async (request, reply) => {
      const key = webhookSecretOf(deps.config, request.tenant);
      return reply.header('cache-control', 'no-store').send({ key });
    },
  );
}
