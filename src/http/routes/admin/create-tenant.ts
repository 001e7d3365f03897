import { TenantCreateSchema, TenantSchema } from '../../../contracts/admin.js';
import type { TenantRecord } from '../../../domain/admin-store.js';
import { GatewayError } from '../../../errors/gateway-error.js';
import { problemResponses } from '../../problem.js';
import { ADMIN_SECURITY, ADMIN_TAG, tenantView, type AdminRoute } from './admin-api.js';

/** POST /admin/tenants: a tenant with an optional budget and rate limit. */
export const createTenantRoute: AdminRoute = (app, deps) => {
  app.post(
    '/admin/tenants',
    {
      schema: {
        tags: [ADMIN_TAG],
        summary: 'Create a tenant',
        description:
          'A tenant owns tasks and gateway keys. `budget` limits what its tasks may cost per period (creates beyond it answer 402 `budget_exceeded`).',
        security: ADMIN_SECURITY,
        body: TenantCreateSchema,
        response: { 201: TenantSchema, ...problemResponses(400, 401, 404, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const now = deps.now();
      const tenant: TenantRecord = {
        id: body.id,
        name: body.name ?? null,
        budget: body.budget
          ? { limitUsd: body.budget.limit_usd, period: body.budget.period }
          : null,
        rateLimit: body.rate_limit
          ? { max: body.rate_limit.max, windowMs: body.rate_limit.window_seconds * 1000 }
          : null,
        createdAt: now,
        updatedAt: now,
      };
      if (deps.configTenants.has(tenant.id) || !(await deps.admin.insertTenant(tenant))) {
        throw new GatewayError('tenant_exists', `A tenant ${tenant.id} exists`);
      }
      return reply
        .code(201)
        .header('location', `/admin/tenants/${tenant.id}`)
        .send(tenantView(tenant));
    },
  );
};
