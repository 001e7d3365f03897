import { z } from 'zod';
import type { Operation } from '../../../contracts/common.js';
import { TaskSchema } from '../../../contracts/task.js';
import { isTerminal, toPublicTask } from '../../../domain/task-record.js';
import { IdempotencyKeyHeaderSchema, idempotencyOf, keyedCreate } from '../../idempotency.js';
import { problemResponses } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { clientGone, preferWaitSeconds } from '../../wait.js';

export const CreateHeadersSchema = z.looseObject({
  prefer: z.string().optional().meta({
    description: '`wait=N`: hold the answer up to N s (max 60) for the task to finish',
    example: 'wait=10',
  }),
  'idempotency-key': IdempotencyKeyHeaderSchema,
});

export interface CreateRouteSpec<B extends z.ZodType> {
  operation: Operation;
  body: B;
  summary: string;
  description: string;
  /** Error statuses this operation adds to the common ones (documented in OpenAPI). */
  extraProblems?: number[];
}

/** POST /v1/<operation>: shared by the create routes, one file each. */
export function registerCreateRoute<B extends z.ZodType>(
  app: GatewayApp,
  deps: RouteDeps,
  spec: CreateRouteSpec<B>,
) {
  app.post(
    `/v1/${spec.operation}`,
    {
      schema: {
        tags: ['generate'],
        summary: spec.summary,
        description: spec.description,
        security: [{ gatewayKey: [] }],
        headers: CreateHeadersSchema,
        body: spec.body,
        response: {
          201: TaskSchema.describe('The task (finished already if `Prefer: wait` was enough)'),
          ...problemResponses(
            400,
            401,
            409,
            413,
            415,
            422,
            429,
            502,
            503,
            504,
            ...(spec.extraProblems ?? []),
          ),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as Parameters<typeof deps.tasks.create>[2];
      const idempotency = idempotencyOf(request, 'normalized');
      const created = await keyedCreate(reply, () =>
        deps.tasks.createOrReplay(request.tenant, spec.operation, body, { idempotency }),
      );
      let task = created.task;
      const wait = preferWaitSeconds(request.headers.prefer, deps.config.limits.maxWaitSeconds);
      // A fresh create the upstream finished at once (the task just written) needs neither
      // the wait nor another read of the store.
      if (wait > 0 && (created.replayed || !isTerminal(task.status))) {
        task = await deps.tasks.waitUntilFinished(
          request.tenant,
          task.id,
          wait * 1000,
          clientGone(request),
        );
      }
      if (wait > 0) {
        reply.header('preference-applied', `wait=${wait}`);
      }
      return reply.code(201).header('location', `/v1/tasks/${task.id}`).send(toPublicTask(task));
    },
  );
}
