import { CredentialAdminListSchema } from '../../../contracts/credentials.js';
import type { CredentialPool } from '../../../domain/credential-pool.js';
import { adminGuard } from '../../admin-guard.js';
import { problemResponses } from '../../problem.js';
import type { GatewayApp } from '../../route-deps.js';

export interface AdminRouteDeps {
  pools: ReadonlyMap<string, CredentialPool>;
  /** ADMIN_TOKEN; undefined: the route answers 404 as if it did not exist. */
  token?: string;
}

/**
 * GET /admin/credentials: every upstream credential's circuit state, in-flight count and cap,
 * failure counts and last error code, and each provider's wait queue. Ids only, never a
 * secret. Needs `Authorization: Bearer <ADMIN_TOKEN>` (never a gateway key); without
 * ADMIN_TOKEN configured the route is off and answers 404 like an unknown route.
 */
export function adminCredentialsRoute(app: GatewayApp, deps: AdminRouteDeps): void {
  const guard = adminGuard(deps.token);
  app.get(
    '/admin/credentials',
    {
      schema: {
        tags: ['operations'],
        summary: 'Upstream credentials: state, load and failures (admin)',
        description:
          "For the operator: per provider, each credential (by id; never its secret) with its circuit state (`closed`, `open`, `half_open`), tasks in flight and cap, consecutive and total failures, the last error code and, while open, when it gets its trial request; and the provider's wait queue of creates. Send `Authorization: Bearer <ADMIN_TOKEN>`; a gateway key is not accepted. When the operator has not set ADMIN_TOKEN the route is disabled and answers 404.",
        // Not a gateway key: the operator's ADMIN_TOKEN as a Bearer (see the description).
        security: [],
        response: {
          200: CredentialAdminListSchema,
          ...problemResponses(401, 404),
        },
      },
    },
    async (request, reply) => {
      await guard(request);
      const providers = Object.fromEntries(
        [...deps.pools].map(([id, pool]) => [
          id,
          { queue: pool.queueStatus(), credentials: pool.status() },
        ]),
      );
      return reply.header('cache-control', 'no-store').send({ providers });
    },
  );
}
