import { z } from 'zod';
import { CredentialReadinessSchema } from '../../../contracts/credentials.js';
import { problemResponses } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { GatewayError } from '../../../errors/gateway-error.js';

const ReadySchema = z.object({
  status: z.literal('ready'),
  store: z.literal('ok'),
  emulated: z.boolean(),
  providers: z.array(z.string()),
  credentials: z.record(z.string(), z.array(CredentialReadinessSchema)).meta({
    description:
      'Per provider, each credential by id (never its secret): circuit state, tasks in flight and cap. Credentials out of rotation do not make the gateway unready: the others serve, and creates get 503 `no_credential_available` only when all of a provider are out.',
  }),
});

export function healthRoutes(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness',
        security: [],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the store answers and providers are configured',
        security: [],
        response: { 200: ReadySchema, ...problemResponses(503) },
      },
    },
    async () => {
      try {
        await deps.store.ping();
      } catch {
        throw new GatewayError('upstream_unavailable', 'The task store does not answer');
      }
      return {
        status: 'ready' as const,
        store: 'ok' as const,
        emulated: deps.config.useEmulators,
        providers: Object.keys(deps.config.providers),
        credentials: Object.fromEntries(
          [...(deps.pools ?? [])].map(([provider, pool]) => [
            provider,
            pool.status().map(({ id, state, in_flight, cap }) => ({ id, state, in_flight, cap })),
          ]),
        ),
      };
    },
  );
}
