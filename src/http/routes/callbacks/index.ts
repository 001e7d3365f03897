import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CallbackRequest } from '../../../domain/ports.js';
import type { UpstreamCallbackService } from '../../../domain/upstream-callbacks.js';
import type { ProviderModule } from '../../../providers/provider-module.js';
import type { GatewayApp } from '../../route-deps.js';

export interface CallbackRouteDeps {
  callbacks: UpstreamCallbackService;
  /** The providers whose callback routes exist (each module's `callbackRoute`). */
  registry: readonly ProviderModule[];
}

/**
 * `POST /callbacks/{provider}/{taskId}` (and `POST /callbacks/{provider}` for a provider whose
 * callback URL is fixed in its console): webhooks of the upstreams (not of genway's clients).
 * One route per provider that calls back, so that each has its own body limit and route label.
 * No gateway key: each is authenticated by its per-task token or its signature, which covers
 * the exact bytes received, so this scope keeps every body as its raw text. Not in the OpenAPI
 * document (nothing but the upstreams calls these).
 */
export async function callbackRoutes(app: GatewayApp, deps: CallbackRouteDeps): Promise<void> {
  await app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
        done(null, body);
      });
      for (const provider of deps.registry) {
        const route = provider.callbackRoute;
        if (!route) continue;
        const byTask = route.routing === 'task';
        scope.post(
          byTask ? `/${provider.id}/:taskId` : `/${provider.id}`,
          {
            bodyLimit: route.bodyLimit,
            ...(route.logRouteOnly ? { config: { logRouteOnly: true } } : {}),
            schema: {
              hide: true,
              ...(byTask ? { params: z.object({ taskId: z.string().min(1).max(64) }) } : {}),
            },
          },
          async (request, reply) => {
            const { taskId } = request.params as { taskId?: string };
            const receipt = await deps.callbacks.receive(
              provider.id,
              taskId,
              callbackRequestOf(request),
            );
            const answer = route.answer?.(receipt);
            if (answer) return reply.type(answer.contentType).send(answer.body);
            return { received: true, applied: receipt.applied };
          },
        );
      }
    },
    { prefix: '/callbacks' },
  );
}

/** The parts of a request an adapter's verify() reads. */
function callbackRequestOf(request: FastifyRequest): Omit<CallbackRequest, 'now'> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const query: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    query[name] = typeof value === 'string' ? value : undefined;
  }
  return {
    headers,
    query,
    rawBody: typeof request.body === 'string' ? request.body : '',
  };
}

/** `{PUBLIC_URL}/callbacks/{provider}/{taskId}`: the URL of the routes above that names a task. */
export function callbackUrlUnder(
  publicUrl: string | null | undefined,
): ((provider: string, taskId: string) => string) | undefined {
  if (!publicUrl) return undefined;
  return (provider, taskId) =>
    `${publicUrl}/callbacks/${encodeURIComponent(provider)}/${encodeURIComponent(taskId)}`;
}
