import { z } from 'zod';
import { TaskStatusSchema } from '../../../contracts/common.js';
import { TaskListSchema } from '../../../contracts/task.js';
import { problemResponses } from '../../problem.js';
import { presentTask } from '../../output-links.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';

export function listTasksRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/v1/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: "List the caller's tasks",
        description: 'Newest first. Pass `next_cursor` back as `cursor` for the next page.',
        security: [{ gatewayKey: [] }],
        querystring: z.object({
          status: TaskStatusSchema.optional(),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z
            .string()
            .regex(/^task_[0-9A-Z]{26}$/, 'not a cursor from a previous page')
            .optional(),
        }),
        response: { 200: TaskListSchema, ...problemResponses(400, 401) },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query;
      // One extra row tells whether another page exists.
      const rows = await deps.tasks.list(request.tenant, { status, cursor, limit: limit + 1 });
      const page = rows.slice(0, limit);
      return {
        object: 'list' as const,
        data: page.map((task) => presentTask(deps, request, task)),
        next_cursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
      };
    },
  );
}
