import { publicOutputs } from '../../domain/task-record.js';
import { outputLinks } from '../output-links.js';
import { z } from 'zod';
import {
  ImageGenerationRequestSchema,
  ImagesResponseSchema,
  type ImagesResponse,
} from '../../contracts/openai.js';
import type { TaskRecord } from '../../domain/task-record.js';
import { ERROR_CATALOGUE, type ErrorCode } from '../../errors/catalogue.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { IdempotencyKeyHeaderSchema, keyedCreate } from '../idempotency.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { clientGone } from '../wait.js';
import { openaiErrorResponses } from './errors.js';
import { createOptionsOf, defaultModel, parseSize } from './mapping.js';
import { CREATE_FAILURES } from '../surface.js';
import { B64_TIMEOUT_MS, EncodingSlots, encodeOutputs } from './b64-outputs.js';

export const IdempotencyHeaders = z.looseObject({
  'idempotency-key': IdempotencyKeyHeaderSchema,
});

/** A failed or canceled task as the error the caller gets (its stable code and message). */
export function taskFailure(task: TaskRecord): GatewayError {
  const code = task.error?.code;
  const known = code !== undefined && code in ERROR_CATALOGUE && code !== 'internal';
  if (task.status === 'canceled') {
    return new GatewayError('upstream_error', `Task ${task.id} was canceled`);
  }
  return new GatewayError(
    known ? (code as ErrorCode) : 'upstream_error',
    task.error?.message ?? `Task ${task.id} failed`,
  );
}

export function createImageRoute(app: GatewayApp, deps: RouteDeps): void {
  const waitSeconds = deps.config.limits.openaiImagesWaitSeconds;
  const encoding = new EncodingSlots();
  app.post(
    '/images/generations',
    {
      config: { openaiCreate: true },
      schema: {
        tags: ['openai-compatible'],
        summary: 'Generate images (OpenAI images.generate)',
        description: `OpenAI's \`POST /v1/images/generations\` for the official \`openai\` clients (\`baseURL: <genway>/openai/v1\`, a gateway key as the API key). Starts a genway text-to-image task (visible at GET /v1/tasks/{id}; its id is in \`x-genway-task-id\`) and answers once it has finished, up to OPENAI_IMAGES_WAIT_SECONDS (${waitSeconds} s here; past that: 504 naming the task, which keeps running). \`size\` becomes width/height; \`n\` the number of images. \`response_format: b64_json\` fetches each file from the provider and inlines it (up to 25 MB a file and 50 MB in all; past that 502, ask for \`url\`). Failures that may have started a paid job carry \`x-should-retry: false\`.`,
        security: [{ gatewayKey: [] }],
        headers: IdempotencyHeaders,
        body: ImageGenerationRequestSchema,
        response: {
          200: ImagesResponseSchema,
          ...openaiErrorResponses(...CREATE_FAILURES),
        },
      },
    },
    async (request, reply): Promise<ImagesResponse> => {
      const body = request.body;
      const gone = clientGone(reply);
      const { task: created } = await keyedCreate(reply, () =>
        deps.tasks.createOrReplay(
          request.tenant,
          'text-to-image',
          {
            model: body.model ?? defaultModel(deps.models, 'text-to-image'),
            prompt: body.prompt,
            negative_prompt: body.negative_prompt,
            num_outputs: body.n,
            ...parseSize(body.size),
            seed: body.seed,
            steps: body.steps,
            guidance_scale: body.guidance_scale,
            scheduler: body.scheduler,
            provider_options: body.provider_options,
          },
          createOptionsOf(request),
        ),
      );
      reply.header('x-genway-task-id', created.id);
      const task = await deps.tasks.waitUntilFinished(
        request.tenant,
        created.id,
        waitSeconds * 1000,
        gone,
      );
      if (task.status === 'failed' || task.status === 'canceled') throw taskFailure(task);
      if (task.status !== 'succeeded') {
        throw new GatewayError(
          'upstream_timeout',
          `Task ${task.id} did not finish within ${waitSeconds} s; it keeps running: follow it at GET /v1/tasks/${task.id}`,
        );
      }
      const answer = { created: Math.floor(task.createdAt / 1000) };
      if (body.response_format !== 'b64_json') {
        const links = outputLinks(deps, request);
        return { ...answer, data: publicOutputs(task, links).map((o) => ({ url: o.url })) };
      }
      const release = await encoding.take(request.tenant, gone, B64_TIMEOUT_MS);
      try {
        return { ...answer, data: await encodeOutputs(deps, task, gone) };
      } finally {
        release();
      }
    },
  );
}
