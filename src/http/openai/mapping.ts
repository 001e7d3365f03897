import type { FastifyRequest } from 'fastify';
import type { Operation } from '../../contracts/common.js';
import type { Video } from '../../contracts/openai.js';
import type { ModelRegistry } from '../../domain/models.js';
import type { VideoFormat } from '../../domain/ports.js';
import type { OutputLinks, TaskRecord } from '../../domain/task-record.js';
import type { CreateOptions } from '../../domain/task-service.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { coerceNumbers, imageFileDataUrl, unbracket } from '../form-fields.js';
import { idempotencyOf } from '../idempotency.js';

/**
 * Pure mapping between OpenAI's request/response shapes and genway's tasks for the
 * `/openai/v1` surface. No Fastify routes here; route files use these.
 */

export const OPENAI_PREFIX = '/openai/v1';

/** Operations whose tasks are "videos" on this surface (listed by GET /videos). */
export const VIDEO_OPERATIONS: readonly Operation[] = [
  'text-to-video',
  'image-to-video',
  'video-extend',
  'video-upscale',
];

/**
 * What genway keeps of an OpenAI video request on the task (as metadata, also visible on
 * GET /v1/tasks/{id}), since OpenAI echoes them on every read.
 */
export const META_SIZE = 'openai.size';
export const META_SECONDS = 'openai.seconds';
export const META_PROMPT = 'openai.prompt';

/** genway field paths (adapter and contract errors) back to the OpenAI field they came from. */
const PARAM_NAMES: Record<string, string> = {
  width: 'size',
  height: 'size',
  aspect_ratio: 'size',
  resolution: 'size',
  num_outputs: 'n',
  duration: 'seconds',
  image: 'input_reference',
};

export function toOpenAIParam(path: string): string {
  // Query and path errors come as `querystring.limit`: OpenAI names the parameter alone.
  const bare = path.replace(/^(?:querystring|params|headers)\./, '');
  const head = bare.split('.')[0] ?? bare;
  return PARAM_NAMES[head] ?? bare;
}

/**
 * The seam for `Idempotency-Key`: the header is read here and handed to TaskService, whose
 * rules apply (architecture §1: same key + same body returns the original outcome). Keys of
 * this surface never collide with the same key on `/v1` or `/replicate/v1`.
 */
export function createOptionsOf(request: FastifyRequest): CreateOptions {
  const idempotency = idempotencyOf(request, 'openai');
  return { ...(idempotency ? { idempotency } : {}), caller: request.caller };
}

/** The first model serving `operation` (GET /v1/models order), for requests without `model`. */
export function defaultModel(models: ModelRegistry, operation: Operation): string {
  const found = models.list().find((m) => m.operations.includes(operation));
  if (!found) {
    const message = `No configured model supports ${operation}; name one in model`;
    throw new GatewayError('model_not_found', message, {
      errors: [{ path: 'model', message }],
    });
  }
  return found.id;
}

/** `1024x1024` → width/height; `auto` or absent → nothing (the model's default). */
export function parseSize(size: string | undefined): { width: number; height: number } | undefined {
  const match = size ? /^(\d{2,4})x(\d{2,4})$/.exec(size) : null;
  if (!match) return undefined;
  return { width: Number(match[1]), height: Number(match[2]) };
}

const RATIOS: readonly [number, number][] = [
  [16, 9],
  [9, 16],
  [1, 1],
  [4, 3],
  [3, 4],
  [3, 2],
  [2, 3],
  [21, 9],
];
const RESOLUTIONS = [360, 480, 540, 720, 1080, 1440, 2160];

/**
 * A video size as the aspect ratio and resolution providers take: the nearest common ratio and
 * the nearest standard height (its shorter side). 1280x720 → 16:9 720p, 720x1280 → 9:16 720p,
 * 1792x1024 → 16:9 1080p.
 */
export function videoFormatOf(
  size: string | undefined,
): { aspect_ratio: string; resolution: string } | undefined {
  const parsed = parseSize(size);
  if (!parsed) return undefined;
  const ratio = parsed.width / parsed.height;
  const near = <T>(items: readonly T[], distance: (t: T) => number) =>
    items.reduce((best, t) => (distance(t) < distance(best) ? t : best));
  const [w, h] = near(RATIOS, ([a, b]) => Math.abs(Math.log(a / b / ratio)));
  const side = Math.min(parsed.width, parsed.height);
  const resolution = near(RESOLUTIONS, (r) => Math.abs(r - side));
  return { aspect_ratio: `${w}:${h}`, resolution: `${resolution}p` };
}

/**
 * The closest `model` comes to the request's `size` and `seconds` (its adapter knows its limits),
 * as the fields to send and the `size`/`seconds` that amounts to. An adapter that does not say
 * gets the size as aspect ratio and resolution and the seconds as they are. Image-to-video never
 * sends a ratio of its own there: the first frame has one.
 */
export function videoFormatFor(
  models: ModelRegistry,
  model: string,
  operation: Operation,
  request: { size?: string; seconds?: string | number },
): VideoFormat {
  const wish = { ...parseSize(request.size), seconds: secondsOf(request.seconds) };
  const resolved = models.resolve(model, operation);
  const closest = resolved.adapter.closestVideoFormat?.(operation, resolved.model, wish);
  if (closest) return closest;
  const format = videoFormatOf(request.size);
  const frame =
    operation === 'image-to-video' && format ? { resolution: format.resolution } : format;
  return {
    input: { ...frame, ...(wish.seconds !== undefined ? { duration: wish.seconds } : {}) },
    size: format && request.size !== undefined ? request.size : null,
    seconds: wish.seconds ?? null,
  };
}

/** `"4"` / 4 → 4; absent → undefined (the model's default). */
export function secondsOf(seconds: string | number | undefined): number | undefined {
  if (seconds === undefined) return undefined;
  const n = typeof seconds === 'number' ? seconds : Number(seconds);
  if (!Number.isInteger(n) || n < 1 || n > 60) {
    throw GatewayError.invalid([
      { path: 'seconds', message: 'expected whole seconds between 1 and 60' },
    ]);
  }
  return n;
}

/** An uploaded image as a `data:` URL; its type comes from its bytes, not its label. */
export const imageDataUrl = (bytes: Buffer): string => imageFileDataUrl(bytes, 'input_reference');

/** `input_reference` in any of its forms → the `image` of an image-to-video task. */
export function imageOf(ref: Buffer | string | { image_url?: string; file_id?: string }): string {
  const bad = (message: string) => GatewayError.invalid([{ path: 'input_reference', message }]);
  if (Buffer.isBuffer(ref)) {
    if (ref.length === 0) throw bad('the image file is empty');
    return imageDataUrl(ref);
  }
  const url = typeof ref === 'string' ? ref : ref.image_url;
  if (url === undefined) {
    throw bad(
      typeof ref === 'object' && ref.file_id !== undefined
        ? 'file_id is not supported by genway: upload the image as input_reference or pass input_reference[image_url]'
        : 'expected an image file, an image URL or {image_url}',
    );
  }
  // http:// passes here: the provider's own rules decide (genway's create checks every URL).
  if (!/^https?:\/\//i.test(url) && !/^data:image\/[a-z0-9.+-]+;base64,/i.test(url)) {
    throw bad('expected an http(s) URL or a data:image/...;base64, URL');
  }
  return url;
}

export { coerceNumbers, unbracket };

/**
 * The poster image of a finished video, where genway keeps one: the signed link to the
 * poster stored beside its first output (media storage with ffmpeg, architecture section 9).
 */
export function posterUrlOf(task: TaskRecord, links?: OutputLinks): string | undefined {
  return task.outputs[0]?.stored?.poster && links ? links.link(task.id, 0, 'poster') : undefined;
}

const VIDEO_STATUS: Record<TaskRecord['status'], Video['status']> = {
  queued: 'queued',
  running: 'in_progress',
  succeeded: 'completed',
  failed: 'failed',
  canceled: 'failed',
};

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

/** A video task as OpenAI's Video object. */
export function toVideo(task: TaskRecord): Video {
  const status = VIDEO_STATUS[task.status];
  const progress =
    status === 'completed'
      ? 100
      : Math.max(0, Math.min(99, Math.round((task.progress ?? 0) * 100)));
  const error =
    task.status === 'canceled'
      ? (task.error ?? { code: 'canceled', message: 'The job was canceled' })
      : task.status === 'failed'
        ? (task.error ?? { code: 'upstream_error', message: 'The provider reported a failure' })
        : null;
  return {
    id: task.id,
    object: 'video',
    model: task.model,
    status,
    progress,
    seconds: task.metadata[META_SECONDS] ?? null,
    size: task.metadata[META_SIZE] ?? null,
    prompt: task.metadata[META_PROMPT] ?? null,
    remixed_from_video_id: null,
    created_at: Math.floor(task.createdAt / 1000),
    completed_at: seconds(task.completedAt),
    expires_at: seconds(task.outputs[0]?.stored?.expiresAt ?? task.outputs[0]?.expiresAt ?? null),
    error,
  };
}
