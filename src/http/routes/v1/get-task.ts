import { z } from 'zod';
import { TaskSchema } from '../../../contracts/task.js';
import { problemResponses } from '../../problem.js';
import { presentView } from '../../output-links.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { clientGone } from '../../wait.js';

export const TaskIdParams = z.object({
  id: z.string().max(64).meta({ example: 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B' }),
});

export function getTaskRoute(app: GatewayApp, deps: RouteDeps): void {
  app.get(
    '/v1/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Read a task',
        description:
          'The task as genway last saw it (genway polls the provider; reads never do). With `wait=N` the answer is held until the task changes or N seconds pass.',
        security: [{ gatewayKey: [] }],
        params: TaskIdParams,
        querystring: z.object({
          wait: z.coerce
            .number()
            .int()
            .min(0)
            .max(60)
            .optional()
            .meta({ description: 'Long-poll up to N seconds for a change' }),
        }),
        response: { 200: TaskSchema, ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request, reply) => {
      const wait = Math.min(request.query.wait ?? 0, deps.config.limits.maxWaitSeconds);
      // Both are shared between readers (a store's view; the one read of the long-polls a
      // change woke together), so each is rendered once while its links stay the same.
      if (wait === 0) {
        return presentView(deps, request, await deps.tasks.read(request.tenant, request.params.id));
      }
      deps.held.hold(request.tenant, reply);
      const task = await deps.tasks.waitForChange(
        request.tenant,
        request.params.id,
        wait * 1000,
        clientGone(reply),
      );
      return presentView(deps, request, task);
    },
  );
}
