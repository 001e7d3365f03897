import { TaskSchema } from '../../../contracts/task.js';
import { problemResponses } from '../../problem.js';
import { presentTask } from '../../output-links.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { TaskIdParams } from './get-task.js';

export function cancelTaskRoute(app: GatewayApp, deps: RouteDeps): void {
  app.post(
    '/v1/tasks/:id/cancel',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Cancel a task',
        description:
          'Cancels the job upstream where the provider has a cancel API (Replicate) and answers with the task, now `canceled` (or the final status the provider reached first). Providers without one (ModelsLab, PixVerse, Haiper) answer 409 `cancel_not_supported`; a finished task answers 409 `task_already_finished`. In both cases nothing changes. No body is needed (an empty JSON body is accepted).',
        security: [{ gatewayKey: [] }],
        params: TaskIdParams,
        response: {
          200: TaskSchema,
          ...problemResponses(400, 401, 404, 409, 415, 429, 502, 503, 504),
        },
      },
    },
    async (request) =>
      presentTask(deps, request, await deps.tasks.cancel(request.tenant, request.params.id)),
  );
}
