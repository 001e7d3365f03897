import { outputLinks } from '../output-links.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Operation } from '../../contracts/common.js';
import { isTerminal } from '../../domain/task-record.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { idempotencyOf, keyedCreate } from '../idempotency.js';
import type { RouteDeps } from '../route-deps.js';
import { clientGone } from '../wait.js';
import { resolveFileInputs } from './file-inputs.js';
import { predictionWebhook, type PredictionWebhookEvent } from './prediction-webhook.js';
import { cancelAfterSeconds } from './cancel-after.js';
import { REPLICATE_PROVIDER, preferWait, surfaceBase, renderPrediction } from './prediction.js';

/** Bodies with `data:` URI inputs reach 10 MB (the official client's inline limit). */
export const CREATE_BODY_LIMIT = 16 * 1024 * 1024;

const IMAGE_INPUTS = ['image', 'first_frame_image', 'start_image', 'input_image', 'init_image'];

/**
 * The genway operation a raw Replicate create is recorded as (bookkeeping only: the input
 * goes upstream as it is): image models → text-to-image, video models → image-to-video
 * when an image input is given, else text-to-video.
 */
function operationFor(operations: Operation[], input: Record<string, unknown>): Operation {
  if (operations.includes('text-to-image')) return 'text-to-image';
  const hasImage = IMAGE_INPUTS.some((k) => input[k] !== undefined);
  if (hasImage && operations.includes('image-to-video')) return 'image-to-video';
  if (operations.includes('text-to-video')) return 'text-to-video';
  return operations[0] ?? 'text-to-image';
}

export interface PredictionRequest {
  /** `owner/name:<version>`, `owner/name` or a bare version id. */
  ref: string;
  input: Record<string, unknown>;
  webhook?: string;
  webhook_events_filter?: PredictionWebhookEvent[];
}

/**
 * Shared by both create routes: records a genway task of the replicate provider with the
 * Replicate input passed through, then honours `Prefer: wait[=N]`.
 */
export async function startPrediction(
  deps: RouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  body: PredictionRequest,
): Promise<FastifyReply> {
  const operations = deps.models.operationsOf(REPLICATE_PROVIDER, body.ref);
  if (operations.length === 0) {
    throw new GatewayError(
      'model_not_found',
      `"${body.ref.slice(0, 300)}" is not a 64-hex version id, owner/name:<version id>, or owner/name`,
    );
  }
  // Checked before anything is created: a Host no URL can carry is a 400 with no prediction.
  const base = surfaceBase(deps.config, request);
  const timeout = cancelAfterSeconds(request.headers['cancel-after']);
  const startedAt = Date.now();
  const wait = preferWait(request.headers.prefer, deps.config.limits.maxWaitSeconds);
  // Before anything is created: a refused wait leaves no prediction behind.
  if (wait !== undefined) deps.held.hold(request.tenant, reply);
  const idempotency = idempotencyOf(request, 'replicate');
  // Signed with the tenant's secret; the body is the prediction (see prediction-webhook.ts).
  const webhook =
    body.webhook === undefined
      ? undefined
      : predictionWebhook(body.webhook, body.webhook_events_filter, base);
  // Links to the tenant's uploaded files become links the upstream can fetch.
  const input = await resolveFileInputs(deps, request.tenant, base, body.input);
  const created = await keyedCreate(reply, () =>
    deps.tasks.createOrReplay(
      request.tenant,
      operationFor(operations, body.input),
      {
        model: `${REPLICATE_PROVIDER}/${body.ref}`,
        ...(webhook ? { webhook } : {}),
        ...(timeout !== undefined ? { timeout_seconds: timeout } : {}),
      },
      { raw: input, fingerprintRaw: body.input, idempotency, caller: request.caller },
    ),
  );
  let task = created.task;
  if (wait !== undefined) {
    const left = wait * 1000 - (Date.now() - startedAt);
    if (left > 0 && !isTerminal(task.status)) {
      task = await deps.tasks.waitUntilFinished(request.tenant, task.id, left, clientGone(reply));
    }
    reply.header('preference-applied', `wait=${wait}`);
  }
  const prediction = renderPrediction(deps.models, task, base, {
    created: true,
    links: outputLinks(deps, request),
  });
  // 202: created, but the wait ran out before the outputs (Replicate's meaning).
  return reply
    .code(wait !== undefined && !isTerminal(task.status) ? 202 : 201)
    .header('location', prediction.urls.get)
    .send(prediction);
}
