import { VideoDeletedSchema, VideoIdParamsSchema } from '../../contracts/openai.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { openaiErrorResponses } from './errors.js';
import { findVideo } from './get-video.js';

export function deleteVideoRoute(app: GatewayApp, deps: RouteDeps): void {
  app.delete(
    '/videos/:video_id',
    {
      schema: {
        tags: ['openai-compatible'],
        summary: 'Delete a video job (OpenAI videos.delete)',
        description:
          "Deletes genway's record of a finished (completed or failed) video job for this key: afterwards it is 404 here and on /v1/tasks and is never listed. genway keeps the row marked deleted for the operator; genway's stored copy of the file (media storage) is deleted at once; the provider's own copy stays until the provider expires it. A job still running answers 400.",
        security: [{ gatewayKey: [] }],
        params: VideoIdParamsSchema,
        response: { 200: VideoDeletedSchema, ...openaiErrorResponses(400, 401, 404, 415) },
      },
    },
    async (request) => {
      const { video_id: id } = request.params;
      await findVideo(deps.tasks, request.tenant, id);
      await deps.tasks.delete(request.tenant, id);
      return { id, object: 'video.deleted' as const, deleted: true as const };
    },
  );
}
