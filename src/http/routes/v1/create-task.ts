import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { Operation } from '../../../contracts/common.js';
import { TaskSchema } from '../../../contracts/task.js';
import { isTerminal } from '../../../domain/task-record.js';
import { coerceNumbers, imageFileDataUrl, unbracket } from '../../form-fields.js';
import { IdempotencyKeyHeaderSchema, idempotencyOf, keyedCreate } from '../../idempotency.js';
import type { MultipartPolicy } from '../../multipart-guard.js';
import { problemResponses } from '../../problem.js';
import { presentTask } from '../../output-links.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { clientGone, preferWaitSeconds } from '../../wait.js';
import { CREATE_FAILURES } from '../../surface.js';

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
  /** Largest JSON body (default: BODY_LIMIT_BYTES); raised where inline `data:` inputs go. */
  bodyLimit?: number;
  /** Also taken as multipart/form-data: its caps, numeric fields and image file fields. */
  form?: FormSpec;
}

export interface FormSpec {
  policy: MultipartPolicy;
  /** Fields that arrive as strings and are numbers in the JSON body. */
  numericFields: readonly string[];
  /** File parts that are images, turned into `data:` URLs (their type read from the bytes). */
  imageFields: readonly string[];
}

/** A multipart body (read by the guard: flat strings and Buffers) as the JSON body's shape. */
function formBodyOf(form: FormSpec) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!request.isMultipart() || !request.body || typeof request.body !== 'object') return;
    const body = unbracket(request.body as Record<string, unknown>);
    coerceNumbers(body, form.numericFields);
    for (const field of form.imageFields) {
      const value = body[field];
      if (Buffer.isBuffer(value)) body[field] = imageFileDataUrl(value, field);
    }
    request.body = body;
  };
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
      ...(spec.bodyLimit
        ? { bodyLimit: Math.max(spec.bodyLimit, deps.config.limits.bodyLimitBytes) }
        : {}),
      ...(spec.form
        ? { config: { multipart: spec.form.policy }, preValidation: formBodyOf(spec.form) }
        : {}),
      schema: {
        tags: ['generate'],
        ...(spec.form ? { consumes: ['application/json', 'multipart/form-data'] } : {}),
        summary: spec.summary,
        description: spec.description,
        security: [{ gatewayKey: [] }],
        headers: CreateHeadersSchema,
        body: spec.body,
        response: {
          201: TaskSchema.describe('The task (finished already if `Prefer: wait` was enough)'),
          ...problemResponses(...CREATE_FAILURES, ...(spec.extraProblems ?? [])),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as Parameters<typeof deps.tasks.create>[2];
      const idempotency = idempotencyOf(request, 'normalized');
      const wait = preferWaitSeconds(request.headers.prefer, deps.config.limits.maxWaitSeconds);
      // Before anything is created: a refused wait leaves no task behind.
      if (wait > 0) deps.held.hold(request.tenant, reply);
      const created = await keyedCreate(reply, () =>
        deps.tasks.createOrReplay(request.tenant, spec.operation, body, {
          idempotency,
          caller: request.caller,
        }),
      );
      let task = created.task;
      // A fresh create the upstream finished at once (the task just written) needs neither
      // the wait nor another read of the store.
      if (wait > 0 && (created.replayed || !isTerminal(task.status))) {
        task = await deps.tasks.waitUntilFinished(
          request.tenant,
          task.id,
          wait * 1000,
          clientGone(reply),
        );
      }
      if (wait > 0) {
        reply.header('preference-applied', `wait=${wait}`);
      }
      return reply
        .code(201)
        .header('location', `/v1/tasks/${task.id}`)
        .send(presentTask(deps, request, task));
    },
  );
}
