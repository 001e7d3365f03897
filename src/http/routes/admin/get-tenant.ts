import { TenantIdParamsSchema, TenantSchema } from '../../../contracts/admin.js';
import { problemResponses } from '../../problem.js';
import {
  ADMIN_SECURITY,
  ADMIN_TAG,
  existingTenant,
  tenantView,
  type AdminRoute,
} from './admin-api.js';

/** GET /admin/tenants/{id}. */
export const getTenantRoute: AdminRoute = (app, deps) => {
  app.get(
    '/admin/tenants/:id',
    {
      schema: {
        tags: [ADMIN_TAG],
        summary: 'Get a tenant',
        security: ADMIN_SECURITY,
        params: TenantIdParamsSchema,
        response: { 200: TenantSchema, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      return tenantView(await existingTenant(deps.admin, request.params.id));
    },
  );
};
