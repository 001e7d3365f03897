import { VideoIdParamsSchema, VideoSchema, type Video } from '../../contracts/openai.js';
import type { TaskRecord } from '../../domain/task-record.js';
import type { TaskService } from '../../domain/task-service.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { openaiErrorResponses } from './errors.js';
import { VIDEO_OPERATIONS, toVideo } from './mapping.js';

/** The caller's video task; 404 for anything else (another tenant's, deleted, or an image). */
export async function findVideo(
  tasks: TaskService,
  tenant: string,
  id: string,
): Promise<TaskRecord> {
  const task = await tasks.get(tenant, id);
  if (!VIDEO_OPERATIONS.includes(task.type)) {
    throw new GatewayError('task_not_found', `No video ${id}`);
  }
  return task;
}

export function getVideoRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/videos/:video_id',
    {
      schema: {
        tags: ['openai-compatible'],
        summary: 'Read a video job (OpenAI videos.retrieve)',
        description:
          'The video job as genway last saw it (genway polls the provider; reads never do). `progress` is 0-100; `status` is `queued`, `in_progress`, `completed` or `failed` (a canceled task reads `failed` with `error.code` `canceled`).',
        security: [{ gatewayKey: [] }],
        params: VideoIdParamsSchema,
        response: { 200: VideoSchema, ...openaiErrorResponses(400, 401, 404) },
      },
    },
    async (request): Promise<Video> =>
      toVideo(await findVideo(deps.tasks, request.tenant, request.params.video_id)),
  );
}
