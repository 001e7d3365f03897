import type { FastifyRequest } from 'fastify';
import { VideoCreateRequestSchema, VideoSchema, type Video } from '../../contracts/openai.js';
import type { GenerationInput } from '../../domain/ports.js';
import { keyedCreate } from '../idempotency.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { IdempotencyHeaders } from './create-image.js';
import { openaiErrorResponses } from './errors.js';
import {
  META_PROMPT,
  META_SECONDS,
  META_SIZE,
  coerceNumbers,
  createOptionsOf,
  defaultModel,
  imageOf,
  toVideo,
  unbracket,
  videoFormatFor,
} from './mapping.js';
import { CREATE_FAILURES } from '../surface.js';

/** JSON bodies may carry the reference image as a data: URL (base64 of up to ~20 MB). */
export const VIDEO_BODY_LIMIT = 32 * 1024 * 1024;

/** Numeric fields of a create that multipart sends as strings (`seconds` stays a string). */
const NUMERIC_FIELDS = ['seed'] as const;

/**
 * Multipart bodies arrive flat and as strings (`attachFieldsToBody: 'keyValues'`): rebuild
 * `input_reference[image_url]` as an object and coerce numbers before the schema sees them.
 */
async function normalizeMultipart(request: FastifyRequest): Promise<void> {
  if (!request.isMultipart() || !request.body || typeof request.body !== 'object') return;
  const body = unbracket(request.body as Record<string, unknown>);
  coerceNumbers(body, NUMERIC_FIELDS);
  request.body = body;
}

export function createVideoRoute(app: GatewayApp, deps: RouteDeps): void {
  app.post(
    '/videos',
    {
      bodyLimit: VIDEO_BODY_LIMIT,
      config: { openaiCreate: true },
      preValidation: normalizeMultipart,
      schema: {
        tags: ['openai-compatible'],
        summary: 'Start a video job (OpenAI videos.create)',
        description:
          "OpenAI's `POST /v1/videos`, as JSON (openai 6.2-6.27) or multipart/form-data (later clients). Starts a genway task and answers with it at once as a video object; its `id` is the task id. Without `input_reference` it is a text-to-video task; with one (an image file part, `input_reference[image_url]`, or an https/data: image URL) an image-to-video task. Every `size` and `seconds` the official SDK offers works on every video model: genway maps them to the closest the model supports (aspect ratio, resolution, duration, or width/height within its limits; image-to-video keeps the image's own ratio where the provider does), and the video object reports what was actually asked of the provider (`size`, `seconds`) and the `prompt`. OpenAI's API has no deadline field: use `/v1` `timeout_seconds` for one. Failures that may have started a paid job carry `x-should-retry: false`.",
        security: [{ gatewayKey: [] }],
        consumes: ['application/json', 'multipart/form-data'],
        headers: IdempotencyHeaders,
        body: VideoCreateRequestSchema,
        response: {
          200: VideoSchema,
          ...openaiErrorResponses(...CREATE_FAILURES),
        },
      },
    },
    async (request, reply): Promise<Video> => {
      const body = request.body;
      const operation = body.input_reference === undefined ? 'text-to-video' : 'image-to-video';
      const model = body.model ?? defaultModel(deps.models, operation);
      // The closest the model comes to `size` and `seconds`: never a 400 for a size it lacks.
      const format = videoFormatFor(deps.models, model, operation, body);
      const input: GenerationInput = {
        prompt: body.prompt,
        negative_prompt: body.negative_prompt,
        ...format.input,
        seed: body.seed,
        provider_options: body.provider_options,
      };
      if (body.input_reference !== undefined) input.image = imageOf(body.input_reference);
      // What the video object reports on every read: what was asked of the upstream.
      const metadata: Record<string, string> = { [META_PROMPT]: body.prompt };
      if (format.seconds !== null) metadata[META_SECONDS] = String(format.seconds);
      if (format.size !== null) metadata[META_SIZE] = format.size;
      const { task } = await keyedCreate(reply, () =>
        deps.tasks.createOrReplay(
          request.tenant,
          operation,
          { model, metadata, ...input },
          createOptionsOf(request),
        ),
      );
      return toVideo(task);
    },
  );
}
