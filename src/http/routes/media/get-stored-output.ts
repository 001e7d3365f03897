import { z } from 'zod';
import { GatewayError } from '../../../errors/gateway-error.js';
import { downloadRequestOf, rangeNotSatisfiable } from '../../downloads.js';
import { problemResponses, sendProblem } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';

const binary = { schema: { type: 'string', format: 'binary' } };
const file = (description: string) =>
  z.unknown().meta({
    description,
    content: { 'image/*': binary, 'video/*': binary, 'audio/*': binary },
  });

const Params = z.object({
  id: z.string().max(64).meta({ description: 'Task id' }),
  index: z.coerce.number().int().min(0).max(1000).meta({ description: 'Output index, from 0' }),
});
const Query = z.object({
  expires: z.string().max(16).optional().meta({ description: 'Link expiry (Unix seconds)' }),
  signature: z.string().max(64).optional().meta({ description: 'HMAC-SHA256 of the link' }),
});

/**
 * GET /media/tasks/{id}/{index}[/poster]: stored outputs behind signed, expiring links. No
 * gateway key (an `<img src>` or `<video src>` uses them); the signature is the credential.
 */
export function getStoredOutputRoutes(app: GatewayApp, deps: RouteDeps): void {
  // Registered even with storage off (MEDIA_STORE_URL=none), so the API is the same; then
  // no link exists and every request is 404.
  const signer = deps.mediaLinks;
  for (const variant of ['file', 'poster'] as const) {
    app.get(
      variant === 'file' ? '/media/tasks/:id/:index' : '/media/tasks/:id/:index/poster',
      {
        config: { logRouteOnly: true },
        schema: {
          tags: ['media'],
          summary:
            variant === 'file'
              ? 'A stored output (signed link)'
              : "A stored video's poster frame (signed link)",
          description:
            'Serves a copy genway keeps of a task output (`outputs[i].url`, or `poster_url`). Needs no gateway key: the link is HMAC-signed and expires (MEDIA_LINK_TTL); an altered or forged link answers 403 `media_link_invalid`, an expired one 403 `media_link_expired` (read the task again for a fresh link). `Range` is supported. Past retention, or after the task was deleted: 410 `output_expired`.',
          security: [],
          params: Params,
          querystring: Query,
          response: {
            200: file('The whole file'),
            206: file('The requested range'),
            ...problemResponses(400, 403, 404, 410, 416),
          },
        },
      },
      async (request, reply) => {
        if (!signer) throw new GatewayError('not_found', 'Media storage is off: no stored files');
        const { id, index } = request.params;
        const { expires, signature } = request.query;
        const check = signer.check(id, index, variant, expires, signature);
        if (check === 'forged') {
          throw new GatewayError(
            'media_link_invalid',
            'This link is not valid; it may have been altered',
          );
        }
        if (check === 'expired') {
          throw new GatewayError(
            'media_link_expired',
            'This link has expired; read the task again for a fresh one',
          );
        }
        const download = downloadRequestOf(request);
        const out = await deps.outputs.openLinked(id, index, variant, download);
        if (out.status === 416) {
          return sendProblem(reply, rangeNotSatisfiable(reply, out, download.range));
        }
        return reply
          .code(out.status)
          .headers({
            ...out.headers,
            'cache-control': 'private, max-age=3600',
            'x-content-type-options': 'nosniff',
            'content-security-policy': "default-src 'none'; sandbox",
          })
          .send(out.body);
      },
    );
  }
}
