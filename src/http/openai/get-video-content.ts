import { outputLinks } from '../output-links.js';
import { z } from 'zod';
import { VideoContentQuerySchema, VideoIdParamsSchema } from '../../contracts/openai.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { rangeNotSatisfiable } from '../downloads.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { openaiErrorResponses } from './errors.js';
import { findVideo } from './get-video.js';
import { posterUrlOf } from './mapping.js';

/** A documented response header (@fastify/swagger moves `type` under `schema` itself). */
const header = (description: string) => ({ description, type: 'string' });

const mp4Response = (description: string, extra: Record<string, object> = {}) =>
  z.unknown().meta({
    description,
    content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } } },
    headers: { 'content-length': header('Bytes in this answer'), ...extra },
  });

export function getVideoContentRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/videos/:video_id/content',
    {
      schema: {
        tags: ['openai-compatible'],
        summary: 'Download a video (OpenAI videos.downloadContent)',
        description:
          'Streams the MP4 of a completed video job from the provider through genway, whatever the `Accept` header (the official client asks for `application/binary`). `Range` is passed on. A job not completed yet answers 400 (never 409, which the client would re-send); an expired file 410. `variant=thumbnail` redirects to the poster image where genway has one, else answers 404 `thumbnail_not_available`; `spritesheet` does not exist (400).',
        security: [{ gatewayKey: [] }],
        params: VideoIdParamsSchema,
        querystring: VideoContentQuerySchema,
        response: {
          200: mp4Response('The video'),
          206: mp4Response('The requested range', {
            'content-range': header('The range sent, e.g. `bytes 0-1023/48213`'),
          }),
          302: z.unknown().meta({
            description: '`variant=thumbnail`: the poster image is at `location`',
            headers: { location: header('Where the poster image is') },
          }),
          ...openaiErrorResponses(400, 401, 404, 416, 502, 504),
        },
      },
    },
    async (request, reply) => {
      const { video_id: id } = request.params;
      if (request.query.variant === 'thumbnail') {
        const task = await findVideo(deps.tasks, request.tenant, id);
        const poster =
          task.status === 'succeeded' ? posterUrlOf(task, outputLinks(deps, request)) : undefined;
        if (poster) return reply.redirect(poster, 302);
        throw new GatewayError(
          'thumbnail_not_available',
          task.status === 'succeeded'
            ? `Video ${id} has no thumbnail: genway keeps no poster image for it; download the video (variant=video)`
            : `Video ${id} has no thumbnail (it is not completed); download the video once it is`,
        );
      }
      if (request.query.variant !== 'video') {
        throw GatewayError.invalid(
          [{ path: 'variant', message: 'only the video variant is available' }],
          `genway has no ${request.query.variant} for videos; omit variant or ask for video`,
        );
      }
      const task = await findVideo(deps.tasks, request.tenant, id);
      if (task.status !== 'succeeded') {
        const state = task.status === 'running' ? 'in_progress' : task.status;
        throw new GatewayError(
          'output_not_ready',
          task.status === 'queued' || task.status === 'running'
            ? `Video ${id} is ${state}; download it once its status is completed`
            : `Video ${id} ${task.status === 'failed' ? 'failed' : 'was canceled'}; it has no content`,
        );
      }
      const gone = new AbortController();
      // Fires when the answer is done or the client hangs up; either way the upstream can stop.
      reply.raw.once('close', () => gone.abort());
      const range = request.headers.range;
      const out = await deps.outputs.open(request.tenant, id, 0, {
        method: 'GET',
        range: typeof range === 'string' ? range : undefined,
        signal: gone.signal,
      });
      if (out.status === 416) throw rangeNotSatisfiable(reply, out, range);
      const type = out.headers['content-type'] ?? '';
      return reply
        .code(out.status)
        .headers({
          ...out.headers,
          // The MP4 whatever the upstream labelled it (a CDN's octet-stream, say).
          'content-type': type.startsWith('video/') ? type : 'video/mp4',
          'x-content-type-options': 'nosniff',
        })
        .send(out.body);
    },
  );
}
