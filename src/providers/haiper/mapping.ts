import type { Operation } from '../../contracts/common.js';
import type { FieldError } from '../../errors/gateway-error.js';
import type { GenerationInput, UpstreamSnapshot } from '../../domain/ports.js';
import { contentTypeOf, scrub } from '../http-client.js';
import { checkProviderOptions } from '../provider-options.js';
import {
  ASPECT_RATIOS,
  EXTEND_DURATIONS,
  GENERATE_DURATIONS,
  HAIPER_PROVIDER_OPTIONS,
} from './models.js';
import {
  HaiperErrorAnswerSchema,
  type HaiperCreateAnswer,
  type HaiperCreateBody,
  type HaiperCreateRoute,
  type HaiperExtendBody,
  type HaiperGenerateBody,
  type HaiperTaskAnswer,
  type HaiperUpscaleBody,
} from './wire.js';
import { isTrustedOutputUrl } from '../output-url.js';

const list = (values: readonly (number | string)[]) =>
  values.length <= 1
    ? values.join('')
    : `${values.slice(0, -1).join(', ')} or ${String(values[values.length - 1])}`;

/** Normalized fields Haiper has no equivalent for, per operation (rejected, never dropped). */
const UNSUPPORTED: Partial<Record<Operation, (keyof GenerationInput)[]>> = {
  'text-to-video': [
    'width',
    'height',
    'resolution',
    'steps',
    'scheduler',
    'guidance_scale',
    'num_outputs',
  ],
  'image-to-video': ['width', 'height', 'resolution', 'steps', 'scheduler', 'guidance_scale'],
};

/** Haiper's documented rules, checked before anything is spent: one FieldError per problem. */
export function validateInput(operation: Operation, input: GenerationInput): FieldError[] {
  const errors: FieldError[] = [];
  const generate = operation === 'text-to-video' || operation === 'image-to-video';
  if (generate) {
    if (
      input.duration !== undefined &&
      !(GENERATE_DURATIONS as readonly number[]).includes(input.duration)
    ) {
      errors.push({
        path: 'duration',
        message: `haiper duration must be ${list(GENERATE_DURATIONS)} (seconds)`,
      });
    }
    if (
      input.aspect_ratio !== undefined &&
      !(ASPECT_RATIOS as readonly string[]).includes(input.aspect_ratio)
    ) {
      errors.push({
        path: 'aspect_ratio',
        message: `haiper aspect_ratio must be one of ${ASPECT_RATIOS.join(', ')}`,
      });
    }
    if (input.prompt === undefined || input.prompt.trim() === '') {
      errors.push({ path: 'prompt', message: `haiper needs a prompt for ${operation}` });
    }
  }
  if (
    operation === 'video-extend' &&
    input.duration !== undefined &&
    !(EXTEND_DURATIONS as readonly number[]).includes(input.duration)
  ) {
    errors.push({
      path: 'duration',
      message: `haiper extend duration must be ${list(EXTEND_DURATIONS)} (seconds added)`,
    });
  }
  for (const field of UNSUPPORTED[operation] ?? []) {
    if (input[field] !== undefined) {
      errors.push({
        path: field,
        message: `haiper does not support ${field} for ${operation}${
          field === 'width' || field === 'height' || field === 'resolution'
            ? '; use aspect_ratio'
            : ''
        }`,
      });
    }
  }
  errors.push(...checkProviderOptions(input.provider_options, HAIPER_PROVIDER_OPTIONS, 'haiper'));
  return errors;
}

/** The Cloudsway route serving an operation. */
export function createRouteOf(operation: Operation): HaiperCreateRoute {
  switch (operation) {
    case 'text-to-video':
    case 'image-to-video':
      return 'generate';
    case 'video-upscale':
      return 'upscale';
    case 'video-extend':
      return 'extend';
    default:
      throw new Error(`haiper does not serve ${operation}`);
  }
}

/** `/video/generate`: text-to-video, or image-to-video when `sourceImage` (a public URL) is given. */
export function toGenerateBody(input: GenerationInput, sourceImage?: string): HaiperGenerateBody {
  const body: HaiperGenerateBody = { prompt: input.prompt ?? '' };
  if (input.negative_prompt !== undefined) body.negativePrompt = input.negative_prompt;
  if (sourceImage !== undefined) body.config = { sourceImage };
  const settings: NonNullable<HaiperGenerateBody['settings']> = {};
  if (input.seed !== undefined) settings.seed = input.seed;
  if (input.duration !== undefined) settings.duration = input.duration;
  if (input.aspect_ratio !== undefined) settings.aspectRatio = input.aspect_ratio;
  if (Object.keys(settings).length > 0) body.settings = settings;
  return body;
}

/** `/video/upscale`: the source video's public URL. */
export function toUpscaleBody(video: string): HaiperUpscaleBody {
  return { config: { sourceVideo: video } };
}

/** `/video/extend`: `duration` (seconds added) becomes `extendDuration`. */
export function toExtendBody(input: GenerationInput, video: string): HaiperExtendBody {
  const body: HaiperExtendBody = { config: { sourceVideo: video } };
  if (input.prompt !== undefined) body.prompt = input.prompt;
  if (input.negative_prompt !== undefined) body.negativePrompt = input.negative_prompt;
  if (input.duration !== undefined) body.config.extendDuration = input.duration;
  const settings: NonNullable<HaiperExtendBody['settings']> = {};
  if (input.seed !== undefined) settings.seed = input.seed;
  if (input.guidance_scale !== undefined) settings.guidanceScale = input.guidance_scale;
  if (Object.keys(settings).length > 0) body.settings = settings;
  return body;
}

/**
 * Route and body of a create. `sourceImage` is the public image URL (image-to-video) and
 * `video` the already-resolved source video URL (upscale/extend).
 */
export function toCreateRequest(
  operation: Operation,
  input: GenerationInput,
  media: { sourceImage?: string; video?: string } = {},
): { route: HaiperCreateRoute; body: HaiperCreateBody } {
  const route = createRouteOf(operation);
  switch (operation) {
    case 'video-upscale':
      return { route, body: toUpscaleBody(media.video ?? input.video ?? '') };
    case 'video-extend':
      return { route, body: toExtendBody(input, media.video ?? input.video ?? '') };
    default:
      return { route, body: toGenerateBody(input, media.sourceImage) };
  }
}

/** The create answer only names the task; Cloudsway tasks start out PENDING. */
export function toStartSnapshot(answer: HaiperCreateAnswer): UpstreamSnapshot {
  return { upstreamId: answer.taskId, upstreamStatus: 'PENDING', status: 'queued' };
}

/** `progress` (documented as 0..1, 1 = done), clamped into that range. */
export function progressOf(raw: number | null | undefined): number | undefined {
  if (raw === undefined || raw === null || !Number.isFinite(raw)) return undefined;
  return Math.min(1, Math.max(0, raw));
}

/** `expireTime` is documented as a millisecond epoch; a seconds value is converted. */
export function expiresAtOf(raw: number | null | undefined): number | null {
  if (raw === undefined || raw === null || !Number.isFinite(raw) || raw <= 0) return null;
  return raw < 1e12 ? raw * 1000 : raw;
}

/** A message the upstream put on an answer (`{error:{message,code}}`, `{error}`, `{message}`). */
export function upstreamMessageOf(body: unknown): string | undefined {
  const parsed = HaiperErrorAnswerSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const { error, message } = parsed.data;
  const text =
    typeof error === 'string'
      ? error
      : typeof error?.message === 'string'
        ? error.message
        : typeof message === 'string'
          ? message
          : undefined;
  const code = typeof error === 'object' ? error.code : undefined;
  if (!text) return typeof code === 'string' ? `code ${code}` : undefined;
  return typeof code === 'string' || typeof code === 'number' ? `${text} (code ${code})` : text;
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * Maps a task answer: PENDING → queued, IN_PROGRESS → running (progress carried),
 * SUCCESS → succeeded with `mediaUrl` (whatever `progress` says), FAIL → failed.
 */
export function toSnapshot(
  answer: HaiperTaskAnswer,
  upstreamId: string,
  secrets: readonly string[],
): UpstreamSnapshot {
  const raw = answer.status;
  const progress = progressOf(answer.progress);
  const base = { upstreamId, upstreamStatus: raw };
  switch (raw.toUpperCase()) {
    case 'PENDING':
      return { ...base, status: 'queued', progress };
    case 'IN_PROGRESS':
      return { ...base, status: 'running', progress };
    case 'SUCCESS': {
      const url = answer.mediaUrl;
      if (!url || !isHttpUrl(url)) {
        return {
          ...base,
          status: 'failed',
          error: {
            code: 'upstream_bad_response',
            message: 'Haiper reported SUCCESS without a usable mediaUrl',
          },
        };
      }
      return {
        ...base,
        status: 'succeeded',
        progress: 1,
        outputs: [
          {
            url,
            contentType: contentTypeOf(url, 'video/mp4'),
            expiresAt: expiresAtOf(answer.expireTime),
          },
        ],
      };
    }
    case 'FAIL': {
      const reason = upstreamMessageOf(answer);
      return {
        ...base,
        status: 'failed',
        progress,
        error: {
          code: 'upstream_rejected',
          message: reason
            ? `Haiper reported the job as failed: ${scrub(reason, secrets)}`
            : 'Haiper reported the job as failed (status FAIL); Cloudsway gives no reason',
        },
      };
    }
    default:
      return {
        ...base,
        status: 'failed',
        error: {
          code: 'upstream_bad_response',
          message: `Haiper answered with unknown status "${scrub(raw, secrets).slice(0, 64)}"`,
        },
      };
  }
}

/**
 * Provider domains whose https links genway may fetch as outputs. Where Cloudsway really serves
 * `mediaUrl` from is undocumented (UNCONFIRMED): its own domain and Haiper's are assumed.
 */
const OUTPUT_DOMAINS = ['cloudsway.net', 'haiper.ai'];

/** Whether an output URL is the provider's: the configured origin, or https on its domains. */
export function isHaiperOutputUrl(url: string, origin: string): boolean {
  return isTrustedOutputUrl(url, origin, OUTPUT_DOMAINS);
}
