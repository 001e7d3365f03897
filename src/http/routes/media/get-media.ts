import { z } from 'zod';
import { GatewayError } from '../../../errors/gateway-error.js';
import { problemResponses } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The URL carries a capability (a token): logs show the route pattern instead. */
    logRouteOnly?: boolean;
  }
}

/**
 * GET /media/{token}: files genway published for an upstream that only takes URLs.
 * No gateway key: the provider fetches it; the 256-bit token is the only credential.
 */
export function getMediaRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/media/:token',
    {
      config: { logRouteOnly: true },
      schema: {
        tags: ['media'],
        summary: 'A file published for a provider',
        description:
          "Serves a file genway published under `PUBLIC_URL` so that a provider which only accepts URLs (Haiper) can fetch a caller's upload. Needs no gateway key; the link is unguessable and expires after an hour, then answers 404.",
        security: [],
        params: z.object({ token: z.string().max(64) }),
        response: {
          200: z.unknown().meta({
            description: 'The file, with its content type',
            content: {
              'image/*': { schema: { type: 'string', format: 'binary' } },
            },
          }),
          ...problemResponses(400, 404),
        },
      },
    },
    async (request, reply) => {
      const file = await deps.media.read(request.params.token);
      if (!file) throw new GatewayError('not_found', 'No such file, or its link has expired');
      return reply
        .type(file.contentType)
        .headers({
          'content-length': String(file.bytes.length),
          'cache-control': 'private, no-store',
          'x-content-type-options': 'nosniff',
          'content-security-policy': "default-src 'none'; sandbox",
        })
        .send(file.bytes);
    },
  );
}
