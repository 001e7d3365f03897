import { z } from 'zod';
import { TenantIdParamsSchema } from '../../../contracts/admin.js';
import { problemResponses } from '../../problem.js';
import { ADMIN_SECURITY, ADMIN_TAG, tenantNotFound, type AdminRoute } from './admin-api.js';

/** DELETE /admin/tenants/{id}: the tenant and its keys (refused at once); its tasks stay. */
export const deleteTenantRoute: AdminRoute = (app, deps) => {
  app.delete(
    '/admin/tenants/:id',
    {
      schema: {
        tags: [ADMIN_TAG],
        summary: 'Delete a tenant',
        description:
          'Deletes the tenant and revokes all its keys at once. Its tasks and usage stay in the store.',
        security: ADMIN_SECURITY,
        params: TenantIdParamsSchema,
        response: {
          200: z
            .object({ id: z.string(), object: z.literal('tenant'), deleted: z.literal(true) })
            .meta({ id: 'TenantDeleted' }),
          ...problemResponses(400, 401, 404, 415),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!(await deps.admin.deleteTenant(id))) throw tenantNotFound(id);
      return { id, object: 'tenant' as const, deleted: true as const };
    },
  );
};
