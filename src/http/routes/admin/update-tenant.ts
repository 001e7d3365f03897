import {
  TenantIdParamsSchema,
  TenantSchema,
  TenantUpdateSchema,
} from '../../../contracts/admin.js';
import type { TenantRecord } from '../../../domain/admin-store.js';
import { problemResponses } from '../../problem.js';
import {
  ADMIN_SECURITY,
  ADMIN_TAG,
  existingTenant,
  tenantNotFound,
  tenantView,
  type AdminRoute,
} from './admin-api.js';

/** PATCH /admin/tenants/{id}: changes name, budget or rate limit; effective at once. */
export const updateTenantRoute: AdminRoute = (app, deps) => {
  app.patch(
    '/admin/tenants/:id',
    {
      schema: {
        tags: [ADMIN_TAG],
        summary: 'Update a tenant',
        description:
          'Changes the fields given (`null` removes a budget or rate limit). A new budget applies to the next create; what the period has used so far still counts.',
        security: ADMIN_SECURITY,
        params: TenantIdParamsSchema,
        body: TenantUpdateSchema,
        response: { 200: TenantSchema, ...problemResponses(400, 401, 404, 413, 415) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const current = await existingTenant(deps.admin, id);
      const body = request.body;
      const next: TenantRecord = {
        ...current,
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.budget !== undefined
          ? {
              budget: body.budget && {
                limitUsd: body.budget.limit_usd,
                period: body.budget.period,
              },
            }
          : {}),
        ...(body.rate_limit !== undefined
          ? {
              rateLimit: body.rate_limit && {
                max: body.rate_limit.max,
                windowMs: body.rate_limit.window_seconds * 1000,
              },
            }
          : {}),
        updatedAt: deps.now(),
      };
      if (!(await deps.admin.updateTenant(next))) throw tenantNotFound(id);
      return tenantView(next);
    },
  );
};
