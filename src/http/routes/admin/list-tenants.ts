import { TenantListSchema } from '../../../contracts/admin.js';
import { problemResponses } from '../../problem.js';
import { ADMIN_SECURITY, ADMIN_TAG, tenantView, type AdminRoute } from './admin-api.js';

/** GET /admin/tenants: every tenant created through the admin API, by id. */
export const listTenantsRoute: AdminRoute = (app, deps) => {
  app.get(
    '/admin/tenants',
    {
      schema: {
        tags: [ADMIN_TAG],
        summary: 'List tenants',
        description:
          'Every tenant created through the admin API, by id (tenants of the configuration are not listed).',
        security: ADMIN_SECURITY,
        response: { 200: TenantListSchema, ...problemResponses(401, 404) },
      },
    },
    async () => ({
      object: 'list' as const,
      data: (await deps.admin.listTenants()).map(tenantView),
    }),
  );
};
