import { GatewayKeyListSchema, TenantIdParamsSchema } from '../../../contracts/admin.js';
import { problemResponses } from '../../problem.js';
import { ADMIN_SECURITY, ADMIN_TAG, keyView, type AdminRoute } from './admin-api.js';

/** GET /admin/tenants/{id}/keys: ids, names, prefixes and rules; never a key. */
export const listKeysRoute: AdminRoute = (app, deps) => {
  app.get(
    '/admin/tenants/:id/keys',
    {
      schema: {
        tags: [ADMIN_TAG],
        summary: "List a tenant's gateway keys",
        description:
          'The keys created through the admin API, oldest first: ids, names, prefixes and rules, never a key.',
        security: ADMIN_SECURITY,
        params: TenantIdParamsSchema,
        response: { 200: GatewayKeyListSchema, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => ({
      object: 'list' as const,
      data: (await deps.admin.listKeys(request.params.id)).map(keyView),
    }),
  );
};
