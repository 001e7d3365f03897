import { ModelListSchema } from '../../../contracts/models.js';
import { problemResponses } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';

export function listModelsRoute(app: GatewayApp, deps: RouteDeps): void {
  const body = { object: 'list' as const, data: deps.models.list() };
  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: 'List usable models',
        description:
          'Every model genway can route to, its operations, and the limits enforced before a provider is called. `emulated: true` means the built-in emulator serves it (no credentials configured).',
        security: [{ gatewayKey: [] }],
        response: { 200: ModelListSchema, ...problemResponses(401) },
      },
    },
    async () => body,
  );
}
