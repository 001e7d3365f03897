import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config, RateLimit } from '../config/config.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { GatewayApp } from './route-deps.js';
import { surfaceAt, type Surface } from './surface.js';

const describeWindow = (ms: number) =>
  ms % 3_600_000 === 0
    ? `${ms / 3_600_000} h`
    : ms % 60_000 === 0
      ? `${ms / 60_000} min`
      : ms % 1000 === 0
        ? `${ms / 1000} s`
        : `${ms} ms`;

/** Cluster mode: the Redis the window is counted in, shared by every instance. */
export interface SharedLimitStore {
  client: Redis;
  /** Prefix of the counter keys. */
  keyPrefix: string;
}

/**
 * Requests per window per tenant (@fastify/rate-limit: in-memory store of this process, or
 * in cluster mode its Redis store, so the window is one over all instances), on
 * every route whose scope authenticated a gateway key: the routes of every API surface.
 * The key is the tenant, so all keys of a tenant and all surfaces share one budget.
 *
 * It runs as a root `preParsing` hook: after the scopes' `onRequest` authentication (a request
 * without a valid key is answered 401 before it and never counts against anyone; such requests
 * are not limited per IP either: a 401 costs one hash lookup) and before the body is read. A
 * request over the limit is thrown as 429 `rate_limited` with `Retry-After`, answered by the
 * error handler of the route's surface in its own error shape; every limited answer carries
 * `x-ratelimit-limit`, `-remaining` and `-reset` (seconds).
 *
 * Must be called before the scopes are registered (hooks are copied into child scopes then).
 */
export async function registerTenantRateLimit(
  app: GatewayApp,
  config: Config,
  surfaces: readonly Surface[],
  shared?: SharedLimitStore,
): Promise<void> {
  documentRateLimit(app, surfaces);
  const fallback: RateLimit = config.rateLimit;
  const byTenant = new Map<string, RateLimit>(
    config.tenants.map((t) => [t.id, t.rateLimit ?? fallback]),
  );
  // A tenant of the admin API may carry its own limit (read with its key, see auth.ts).
  const limitOf = (tenant: string, request?: FastifyRequest) =>
    request?.caller?.rateLimit ?? byTenant.get(tenant) ?? fallback;
  const anyLimit = [...byTenant.values(), fallback].some((l) => l.max > 0);
  if (!anyLimit && !config.adminToken) return;

  await app.register(fastifyRateLimit, {
    // No route hooks of the plugin's own: the preParsing hook below applies it.
    global: false,
    // A Redis that does not answer lets requests through: what needs the store answers 503
    // on its own, and /readyz reports the outage.
    ...(shared ? { redis: shared.client, nameSpace: shared.keyPrefix, skipOnError: true } : {}),
    keyGenerator: (request) => request.tenant,
    max: (request, tenant) => limitOf(tenant, request).max,
    timeWindow: (request, tenant) => limitOf(tenant, request).windowMs,
    // Tenants whose limit is 0 are not limited (and get no x-ratelimit-* headers).
    allowList: (request, tenant) => limitOf(tenant, request).max === 0,
    errorResponseBuilder: (request, context) => {
      const limit = limitOf(request.tenant, request);
      return new GatewayError(
        'rate_limited',
        `This gateway key may send ${limit.max} request${limit.max === 1 ? '' : 's'} per ${describeWindow(limit.windowMs)}; retry in ${context.after}`,
        { retryAfterMs: context.ttl, requestSent: false },
      );
    },
  });
  const limiter = app.rateLimit();
  app.addHook(
    'preParsing',
    async (request: FastifyRequest, reply: FastifyReply, payload: NodeJS.ReadableStream) => {
      // Routes outside the authenticated scopes (health, docs, media) have no tenant.
      if (request.tenant) await limiter.call(app, request, reply);
      return payload;
    },
  );
}

/**
 * Every authenticated route may answer 429: documented in OpenAPI in its surface's error shape
 * where the route does not list 429 itself (whatever the configured limits, so the committed
 * document does not depend on them).
 */
function documentRateLimit(app: GatewayApp, surfaces: readonly Surface[]): void {
  app.addHook('onRoute', (route) => {
    const responses = route.schema?.response as Record<string, unknown> | undefined;
    if (!responses || route.schema?.hide || '429' in responses) return;
    const surface = surfaceAt(surfaces, route.url);
    if (surface) Object.assign(responses, surface.errorResponses(429));
  });
}
