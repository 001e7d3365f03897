import { UsageSchema, usageQuerySchema } from '../../../contracts/admin.js';
import { problemResponses } from '../../problem.js';
import { usageOf } from '../../usage.js';
import { ADMIN_SECURITY, ADMIN_TAG, type AdminRoute } from './admin-api.js';

/** GET /admin/usage: every tenant's finished tasks and charges, from the usage ledger. */
export const adminUsageRoute: AdminRoute = (app, deps) => {
  app.get(
    '/admin/usage',
    {
      schema: {
        tags: [ADMIN_TAG],
        summary: 'Usage of every tenant',
        description:
          'Tasks settled in [`from`, `to`) over all tenants, grouped by `tenant`, `model`, `day` (UTC) or `key`: how many, how many succeeded and failed, and the USD charged. Read from the usage ledger written when each task finished.',
        security: ADMIN_SECURITY,
        querystring: usageQuerySchema(['tenant', 'model', 'day', 'key'] as const),
        response: { 200: UsageSchema, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => usageOf(deps.admin, request.query, deps.now()),
  );
};
