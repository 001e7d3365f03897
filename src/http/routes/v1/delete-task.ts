import { z } from 'zod';
import { problemResponses } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { TaskIdParams } from './get-task.js';

const TaskDeletedSchema = z
  .object({
    id: z.string().meta({ example: 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B' }),
    object: z.literal('task.deleted'),
    deleted: z.literal(true),
  })
  .meta({ id: 'TaskDeleted' });

export function deleteTaskRoute(app: GatewayApp, deps: RouteDeps): void {
  app.delete(
    '/v1/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Delete a task and its stored outputs',
        description:
          "Deletes a finished task of the caller: genway's stored copies of its outputs (and posters) are deleted at once, their links answer 410, and the task is 404 on every surface and never listed again. The provider's own copy stays until the provider expires it. A task still queued or running answers 400 (cancel it first).",
        security: [{ gatewayKey: [] }],
        params: TaskIdParams,
        response: { 200: TaskDeletedSchema, ...problemResponses(400, 401, 404, 415) },
      },
    },
    async (request) => {
      const { id } = request.params;
      await deps.tasks.delete(request.tenant, id);
      return { id, object: 'task.deleted' as const, deleted: true as const };
    },
  );
}
