import type { Config } from '../config/config.js';
import { GatewayKeys } from '../http/auth.js';
import { HeldRequests } from '../http/held-requests.js';
import { registerOpenApi } from '../http/openapi.js';
import { registerTenantRateLimit } from '../http/rate-limit.js';
import type { GatewayApp, RouteDeps } from '../http/route-deps.js';
import { registerAdminApi } from '../http/routes/admin/index.js';
import { callbackRoutes } from '../http/routes/callbacks/index.js';
import { getMediaRoute } from '../http/routes/media/get-media.js';
import { getStoredOutputRoutes } from '../http/routes/media/get-stored-output.js';
import { adminCredentialsRoute } from '../http/routes/ops/admin-credentials.js';
import { healthRoutes } from '../http/routes/ops/health.js';
import { metricsRoute } from '../http/routes/ops/metrics.js';
import { registerSurface } from '../http/surface.js';
import { SURFACES, SURFACE_ROUTES } from '../http/surfaces.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { serveMetricsApart } from './metrics-listener.js';
import type { RuntimeServices } from './runtime.js';

/**
 * Every route of the app: the rate limit and the OpenAPI document first (their hooks must
 * reach the routes), then operations, media, upstream callbacks and the API surfaces.
 */
export async function registerRoutes(
  app: GatewayApp,
  config: Config,
  services: RuntimeServices,
  metrics: GatewayMetrics,
): Promise<void> {
  const { tasks, models, store, outputs, media, mediaLinks, pools, callbacks, registry } = services;
  await registerTenantRateLimit(app, config, SURFACES, services.coordination.sharedRedis);
  await registerOpenApi(app, SURFACES);
  const held = new HeldRequests(config.limits.heldRequests);
  const routeDeps: RouteDeps = {
    config,
    tasks,
    models,
    store,
    outputs,
    media,
    mediaLinks,
    pools,
    held,
  };
  healthRoutes(app, routeDeps);
  adminCredentialsRoute(app, { pools, token: config.adminToken });
  await registerAdminApi(app, {
    admin: store.admin,
    token: config.adminToken,
    configTenants: new Set(config.tenants.map((t) => t.id)),
    now: Date.now,
  });
  // On a listener of its own when METRICS_PORT is set: then the main port has no /metrics.
  if (config.metricsPort === null) metricsRoute(app, { metrics, token: config.metricsToken });
  else serveMetricsApart(app, { ...config, metricsPort: config.metricsPort }, metrics, app.log);
  getMediaRoute(app, routeDeps);
  getStoredOutputRoutes(app, routeDeps);
  await callbackRoutes(app, { callbacks, registry });
  // Keys of the configuration, then those of the admin API (looked up in the store).
  const keys = new GatewayKeys(config.tenants, {
    lookup: (hash) => store.admin.keyByHash(hash),
    tenant: (id) => store.admin.getTenant(id),
  });
  for (const surface of SURFACE_ROUTES) await registerSurface(app, surface, routeDeps, keys);
}
