import { VideoListQuerySchema, VideoListSchema } from '../../contracts/openai.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { openaiErrorResponses } from './errors.js';
import { VIDEO_OPERATIONS, toVideo } from './mapping.js';

export function listVideosRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/videos',
    {
      schema: {
        tags: ['openai-compatible'],
        summary: 'List video jobs (OpenAI videos.list)',
        description:
          "The caller's video jobs (text-to-video, image-to-video, video-extend and video-upscale tasks, however they were created), newest first unless `order=asc`. Pass `last_id` back as `after` while `has_more` is true; the official client's auto-pagination does exactly that.",
        security: [{ gatewayKey: [] }],
        querystring: VideoListQuerySchema,
        response: { 200: VideoListSchema, ...openaiErrorResponses(400, 401) },
      },
    },
    async (request) => {
      const { after, limit, order } = request.query;
      // One extra row tells whether another page exists.
      const rows = await deps.tasks.list(request.tenant, {
        limit: limit + 1,
        cursor: after,
        order,
        types: VIDEO_OPERATIONS,
      });
      const page = rows.slice(0, limit).map(toVideo);
      return {
        object: 'list' as const,
        data: page,
        first_id: page[0]?.id ?? null,
        last_id: page.at(-1)?.id ?? null,
        has_more: rows.length > limit,
      };
    },
  );
}
