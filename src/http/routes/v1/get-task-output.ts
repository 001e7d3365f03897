import { z } from 'zod';
import { downloadRequestOf, rangeNotSatisfiable } from '../../downloads.js';
import { problemResponses, sendProblem } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { TaskIdParams } from './get-task.js';

const header = (description: string) => ({ type: 'string', description });
const binary = { schema: { type: 'string', format: 'binary' } };

/** A documented binary answer (the zod schema only carries the OpenAPI description). */
const fileResponse = (description: string, headers: Record<string, object>) =>
  z.unknown().meta({
    description,
    content: { 'image/*': binary, 'video/*': binary, 'application/octet-stream': binary },
    headers,
  });

const FILE_HEADERS = {
  'content-length': header('Bytes in this answer'),
  'accept-ranges': header('`bytes` when the provider serves ranges'),
  etag: header("The provider's entity tag, when it sends one"),
  'last-modified': header("The provider's modification date, when it sends one"),
};

export function getTaskOutputRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/v1/tasks/:id/outputs/:index',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Download an output file',
        description:
          "Serves output `index` (0-based) of a succeeded task. A stored output (`stored: true`) comes from genway's media storage, with `Range` (206 with `content-range`), for as long as it is kept (MEDIA_RETENTION); afterwards 410 `output_expired`. Otherwise the file is streamed from the provider through genway, so callers never need the provider's links: `Range` is passed on, and an output past its `expires_at`, or one the provider no longer serves (403/404/410), answers 410 `output_expired`. Only URLs on the provider's own hosts are fetched.",
        security: [{ gatewayKey: [] }],
        params: TaskIdParams.extend({
          index: z.coerce
            .number()
            .int()
            .min(0)
            .max(1000)
            .meta({ description: 'Output index, from 0', example: 0 }),
        }),
        headers: z.looseObject({
          range: z.string().max(200).optional().meta({
            description: 'A byte range, e.g. `bytes=0-1023` or `bytes=-500`',
            example: 'bytes=0-1023',
          }),
        }),
        response: {
          200: fileResponse('The whole file', FILE_HEADERS),
          206: fileResponse('The requested range', {
            ...FILE_HEADERS,
            'content-range': header('The range sent, e.g. `bytes 0-1023/48213`'),
          }),
          ...problemResponses(400, 401, 404, 409, 410, 416, 502, 504),
        },
      },
    },
    async (request, reply) => {
      const gone = new AbortController();
      // Fires when the answer is done or the client hangs up; either way the upstream can stop.
      reply.raw.once('close', () => gone.abort());
      const download = downloadRequestOf(request);
      const out = await deps.outputs.open(request.tenant, request.params.id, request.params.index, {
        ...download,
        signal: gone.signal,
      });
      if (out.status === 416) {
        return sendProblem(reply, rangeNotSatisfiable(reply, out, download.range));
      }
      return reply
        .code(out.status)
        .headers({ ...out.headers, 'x-content-type-options': 'nosniff' })
        .send(out.body);
    },
  );
}
