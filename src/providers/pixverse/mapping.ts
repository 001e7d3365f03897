import type { Operation } from '../../contracts/common.js';
import type { GenerationInput, ProviderAdapter, UpstreamSnapshot } from '../../domain/ports.js';
import { GatewayError, type FieldError } from '../../errors/gateway-error.js';
import { decodeDataUrl, type DecodedDataUrl } from '../data-url.js';
import { checkProviderOptions } from '../provider-options.js';
import {
  ASPECT_RATIOS,
  DEFAULTS,
  IMAGE_TYPES,
  MAX_IMAGE_BYTES,
  MAX_LIP_SYNC_TTS_CHARS,
  MAX_PROMPT_CHARS,
  MAX_SEED,
  PIXVERSE_MODEL_NAMES,
  PIXVERSE_PROVIDER_OPTIONS,
  PIXVERSE_RULES,
  QUALITIES,
  SOUND_AND_LIP_SYNC_OPTIONS,
  isPixverseModel,
  type PixverseModelRules,
  type Quality,
} from './models.js';
import type { PixverseGenerateBody, ResultResp } from './wire.js';
import { isTrustedOutputUrl } from '../output-url.js';

/** Normalized fields PixVerse has no equivalent for: rejected instead of silently dropped. */
const UNSUPPORTED_FIELDS = [
  'width',
  'height',
  'num_outputs',
  'steps',
  'guidance_scale',
  'scheduler',
  'video',
] as const;

const isQuality = (v: string): v is Quality => (QUALITIES as readonly string[]).includes(v);

/** Model names whose rules satisfy `pred`, for messages ("only on v4, v4.5"). */
function modelsWhere(pred: (r: PixverseModelRules) => boolean): string {
  return PIXVERSE_MODEL_NAMES.filter((m) => pred(PIXVERSE_RULES[m])).join(', ');
}

/** `5, 8, 10`, or `1-15` for a run of more than three whole numbers. */
export function formatDurations(d: readonly number[]): string {
  const first = d[0];
  const last = d[d.length - 1];
  if (first !== undefined && last !== undefined && d.length > 3 && last - first === d.length - 1)
    return `${first}-${last}`;
  return d.join(', ');
}

/** Every PixVerse rule broken by `input`, one FieldError each, before anything is spent. */
export const validateInput: ProviderAdapter['validate'] = (operation, model, input) => {
  const errors: FieldError[] = [];
  const fail = (path: string, message: string) => errors.push({ path, message });

  if (operation !== 'text-to-video' && operation !== 'image-to-video') {
    fail('model', `pixverse supports text-to-video and image-to-video, not ${operation}`);
    return errors;
  }
  if (!isPixverseModel(model)) {
    fail('model', `pixverse model must be one of ${PIXVERSE_MODEL_NAMES.join(', ')}`);
    return errors;
  }
  const rules = PIXVERSE_RULES[model];

  for (const field of UNSUPPORTED_FIELDS) {
    if (input[field] !== undefined) fail(field, `pixverse does not accept ${field}`);
  }

  if (input.prompt === undefined || input.prompt.trim() === '') {
    fail('prompt', `pixverse ${operation} requires a prompt`);
  } else if (input.prompt.length > MAX_PROMPT_CHARS) {
    fail('prompt', `pixverse prompt allows at most ${MAX_PROMPT_CHARS} characters`);
  }
  if (input.negative_prompt !== undefined && input.negative_prompt.length > MAX_PROMPT_CHARS) {
    fail(
      'negative_prompt',
      `pixverse negative_prompt allows at most ${MAX_PROMPT_CHARS} characters`,
    );
  }
  if (input.seed !== undefined && (input.seed < 0 || input.seed > MAX_SEED)) {
    fail('seed', `pixverse seed must be between 0 and ${MAX_SEED}`);
  }

  const resolution = input.resolution ?? DEFAULTS.resolution;
  const quality = isQuality(resolution) ? resolution : undefined;
  if (!quality) fail('resolution', `pixverse resolution must be one of ${QUALITIES.join(', ')}`);

  const duration = input.duration ?? DEFAULTS.duration;
  if (quality) {
    const allowed = rules.durations[quality];
    if (!allowed.includes(duration)) {
      fail(
        'duration',
        `pixverse ${model} at ${quality} allows durations ${formatDurations(allowed)} (got ${duration})`,
      );
    }
  }

  if (operation === 'text-to-video') {
    const ratio = input.aspect_ratio ?? DEFAULTS.aspect_ratio;
    if (!(ASPECT_RATIOS as readonly string[]).includes(ratio)) {
      fail('aspect_ratio', `pixverse aspect_ratio must be one of ${ASPECT_RATIOS.join(', ')}`);
    }
  } else {
    if (input.aspect_ratio !== undefined) {
      fail(
        'aspect_ratio',
        'pixverse image-to-video takes the aspect ratio from the image; leave aspect_ratio out',
      );
    }
    if (input.image === undefined) {
      fail('image', 'pixverse image-to-video requires an image');
    } else if (input.image.startsWith('data:')) {
      try {
        decodeImage(input.image);
      } catch (err) {
        if (err instanceof GatewayError && err.errors) errors.push(...err.errors);
        else throw err;
      }
    }
  }

  const optionErrors = checkProviderOptions(
    input.provider_options,
    PIXVERSE_PROVIDER_OPTIONS,
    'pixverse',
  );
  errors.push(...optionErrors);
  errors.push(...modelOptionErrors(model, rules, input, duration, quality, optionErrors));
  return errors;
};

/** Rules of the pass-through options that depend on the model, duration or quality. */
function modelOptionErrors(
  model: string,
  rules: PixverseModelRules,
  input: GenerationInput,
  duration: number,
  quality: Quality | undefined,
  typeErrors: FieldError[],
): FieldError[] {
  const errors: FieldError[] = [];
  const options = input.provider_options ?? {};
  // Options whose type is already wrong get one error, not two.
  const badType = new Set(typeErrors.map((e) => e.path));
  const has = (key: string) =>
    options[key] !== undefined && !badType.has(`provider_options.${key}`);
  const fail = (key: string, message: string) =>
    errors.push({ path: `provider_options.${key}`, message });

  if (has('style') && !rules.style) {
    fail(
      'style',
      `pixverse style is only available on ${modelsWhere((r) => r.style)} (not ${model})`,
    );
  }
  if (has('camera_movement') && !rules.cameraMovement) {
    fail(
      'camera_movement',
      `pixverse camera_movement is only available on ${modelsWhere((r) => r.cameraMovement)} (not ${model})`,
    );
  }
  if (has('motion_mode') && options['motion_mode'] === 'fast') {
    if (!rules.motionModes.includes('fast')) {
      fail(
        'motion_mode',
        `pixverse motion_mode fast is only available on ${modelsWhere((r) => r.motionModes.includes('fast'))} (not ${model})`,
      );
    } else {
      if (duration !== 5) {
        fail('motion_mode', `pixverse motion_mode fast allows only duration 5 (got ${duration})`);
      }
      if (quality === '1080p')
        fail('motion_mode', 'pixverse motion_mode fast is not available at 1080p');
    }
  }
  const template = options['template_id'];
  const withTemplate = typeof template === 'number' && template > 0;
  if (!rules.soundAndLipSync && !withTemplate) {
    for (const key of SOUND_AND_LIP_SYNC_OPTIONS) {
      if (has(key)) {
        fail(
          key,
          `pixverse sound effects and lip sync are only available on ${modelsWhere((r) => r.soundAndLipSync)} or with a template_id (not ${model})`,
        );
      }
    }
  }
  const tts = options['lip_sync_tts_content'];
  if (
    has('lip_sync_tts_content') &&
    typeof tts === 'string' &&
    tts.length > MAX_LIP_SYNC_TTS_CHARS
  ) {
    fail(
      'lip_sync_tts_content',
      `pixverse lip_sync_tts_content allows at most ${MAX_LIP_SYNC_TTS_CHARS} characters`,
    );
  }
  if (has('generate_audio_switch') && !rules.generateAudio) {
    fail(
      'generate_audio_switch',
      `pixverse generate_audio_switch is only available on ${modelsWhere((r) => r.generateAudio)} (not ${model})`,
    );
  }
  if (has('generate_multi_clip_switch') && !rules.multiClip) {
    fail(
      'generate_multi_clip_switch',
      `pixverse generate_multi_clip_switch is only available on ${modelsWhere((r) => r.multiClip)} (not ${model})`,
    );
  }
  if (has('thinking_type') && !rules.thinking) {
    fail(
      'thinking_type',
      `pixverse thinking_type is only available on ${modelsWhere((r) => r.thinking)} (not ${model})`,
    );
  }
  if (has('template_id') && typeof template === 'number' && template < 0) {
    fail('template_id', 'pixverse template_id must be a positive integer');
  }
  return errors;
}

/** A caller's `data:` image, checked for type, size (< 20 MB) and magic bytes. */
export function decodeImage(dataUrl: string): DecodedDataUrl {
  return decodeDataUrl(dataUrl, 'image', IMAGE_TYPES, MAX_IMAGE_BYTES);
}

export type ImageSource =
  | { kind: 'url'; url: string }
  | { kind: 'file'; bytes: Buffer; contentType: string; filename: string };

/** How the image reaches `POST /image/upload`: the `image_url` field or the `image` file. */
export function imageSourceOf(image: string): ImageSource {
  if (!image.startsWith('data:')) return { kind: 'url', url: image };
  const { bytes, contentType } = decodeImage(image);
  const ext = contentType === 'image/png' ? 'png' : contentType === 'image/webp' ? 'webp' : 'jpg';
  return { kind: 'file', bytes, contentType, filename: `image.${ext}` };
}

/**
 * The generate body. Defaults: duration 5, quality 540p, aspect_ratio 16:9 (text-to-video).
 * `motion_mode` goes only to models that have it (v3.5-v4.5); `normal` is their default anyway.
 */
export function toGenerateBody(
  operation: Operation,
  model: string,
  input: GenerationInput,
  imgId?: number,
): PixverseGenerateBody {
  const { motion_mode: motionMode, ...options } = input.provider_options ?? {};
  const body: PixverseGenerateBody = {
    ...options,
    model,
    prompt: input.prompt ?? '',
    duration: input.duration ?? DEFAULTS.duration,
    quality: input.resolution ?? DEFAULTS.resolution,
  };
  if (operation === 'text-to-video')
    body.aspect_ratio = input.aspect_ratio ?? DEFAULTS.aspect_ratio;
  if (imgId !== undefined) body.img_id = imgId;
  if (input.negative_prompt !== undefined) body.negative_prompt = input.negative_prompt;
  if (input.seed !== undefined) body.seed = input.seed;
  const rules = isPixverseModel(model) ? PIXVERSE_RULES[model] : undefined;
  if (typeof motionMode === 'string' && rules?.motionModes.includes('fast')) {
    body.motion_mode = motionMode;
  }
  return body;
}

/** State kept on the task between polls. */
export interface PixverseState extends Record<string, unknown> {
  /** The uploaded image's id (image-to-video). */
  imgId?: number;
}

/**
 * `GET /video/result/{id}` → snapshot. Status 1 success, 5 generating (2/3 undocumented, read
 * as running), 6 deleted, 7 moderation failed (credits refunded), 8 generation failed.
 */
export function resultToSnapshot(resp: ResultResp, upstreamId: string): UpstreamSnapshot {
  const upstreamStatus = String(resp.status);
  const base = { upstreamId: resp.id ?? upstreamId, upstreamStatus };
  const failed = (code: string, message: string): UpstreamSnapshot => ({
    ...base,
    status: 'failed',
    error: { code, message },
  });
  switch (resp.status) {
    case 1:
      if (!resp.url) {
        return failed('upstream_bad_response', 'PixVerse reported success without a video URL');
      }
      return {
        ...base,
        status: 'succeeded',
        progress: 1,
        // URL lifetime is undocumented (providers.md section 3).
        outputs: [{ url: resp.url, contentType: 'video/mp4', expiresAt: null }],
      };
    case 2:
    case 3:
    case 5:
      return { ...base, status: 'running' };
    case 6:
      return failed('upstream_rejected', 'PixVerse deleted the video (status 6)');
    case 7:
      // PixVerse refunds the credits of a video its moderation refused: nothing is charged.
      return {
        ...failed(
          'moderation_failed',
          'PixVerse content moderation refused the video (status 7); its credits are refunded',
        ),
        usage: { refunded: true },
      };
    case 8:
      return failed('upstream_rejected', 'PixVerse failed to generate the video (status 8)');
    default:
      return failed(
        'upstream_bad_response',
        `PixVerse answered with unknown video status ${upstreamStatus}`,
      );
  }
}

/** PixVerse hosts (international and China) and the configured API origin serve outputs. */
export function isPixverseOutputUrl(url: string, baseUrl: string): boolean {
  return isTrustedOutputUrl(url, new URL(baseUrl).origin, ['pixverse.ai', 'pixverseai.cn']);
}
