import type { GatewayApp } from '../../route-deps.js';
import { adminGuard } from '../../admin-guard.js';
import type { AdminApiDeps } from './admin-api.js';
import { createKeyRoute } from './create-key.js';
import { createTenantRoute } from './create-tenant.js';
import { deleteTenantRoute } from './delete-tenant.js';
import { getTenantRoute } from './get-tenant.js';
import { adminUsageRoute } from './get-usage.js';
import { listKeysRoute } from './list-keys.js';
import { listTenantsRoute } from './list-tenants.js';
import { revokeKeyRoute } from './revoke-key.js';
import { updateTenantRoute } from './update-tenant.js';

export type { AdminApiDeps } from './admin-api.js';

const ROUTES = [
  createTenantRoute,
  listTenantsRoute,
  getTenantRoute,
  updateTenantRoute,
  deleteTenantRoute,
  createKeyRoute,
  listKeysRoute,
  revokeKeyRoute,
  adminUsageRoute,
];

/**
 * The admin API (architecture §8): tenants, gateway keys and usage, behind ADMIN_TOKEN (404
 * without it), in a scope of its own so that the token check runs before anything else,
 * body validation included. Errors are problem+json like every route outside the surfaces.
 */
export async function registerAdminApi(app: GatewayApp, deps: AdminApiDeps): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRequest', adminGuard(deps.token));
    for (const route of ROUTES) route(scope, deps);
  });
}
