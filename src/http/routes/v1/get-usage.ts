import { UsageSchema, usageQuerySchema } from '../../../contracts/admin.js';
import { problemResponses } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { usageOf } from '../../usage.js';

/** GET /v1/usage: the caller's tenant's finished tasks and charges, from the usage ledger. */
export function getUsageRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/v1/usage',
    {
      schema: {
        tags: ['tasks'],
        summary: "Usage of the caller's tenant",
        description:
          "Tasks of the caller's tenant settled in [`from`, `to`), grouped by `model`, `day` (UTC) or `key` (the id of the admin key that created them; null for a configured key): how many, how many succeeded and failed, and the USD charged. Read from the usage ledger written when each task finished.",
        security: [{ gatewayKey: [] }],
        querystring: usageQuerySchema(['model', 'day', 'key'] as const),
        response: { 200: UsageSchema, ...problemResponses(400, 401) },
      },
    },
    async (request) => usageOf(deps.store.admin, request.query, Date.now(), request.tenant),
  );
}
