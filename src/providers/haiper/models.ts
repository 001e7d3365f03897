import type { Operation } from '../../contracts/common.js';
import type { ModelDescriptor } from '../../domain/ports.js';
import type { OptionKind } from '../provider-options.js';
import type { VideoCaps } from '../video-format.js';

/** `settings.duration` of `/video/generate` (seconds; upstream default 2). */
export const GENERATE_DURATIONS = [2, 4, 8] as const;
/** `config.extendDuration` of `/video/extend` (seconds; upstream default 4). */
export const EXTEND_DURATIONS = [2, 4] as const;
/** `settings.aspectRatio` of `/video/generate` (upstream default 16:9). */
export const ASPECT_RATIOS = ['16:9', '9:16', '3:4', '4:3', '1:1'] as const;

export const HAIPER_OPERATIONS: Operation[] = [
  'text-to-video',
  'image-to-video',
  'video-upscale',
  'video-extend',
];

/** Data: URL image types genway accepts before publishing them for Haiper. */
export const HAIPER_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/jpg', 'image/webp'] as const;
/** Largest decoded image genway publishes for Haiper. */
export const HAIPER_MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** Cloudsway documents no extra fields, so nothing passes through `provider_options`. */
export const HAIPER_PROVIDER_OPTIONS: Record<string, OptionKind> = {};

const generateLimits = {
  duration: { values: GENERATE_DURATIONS, default: 2 },
  aspect_ratio: { values: ASPECT_RATIOS, default: '16:9' },
  prompt: { required: true },
};

/** Published as-is by GET /v1/models: the rules validate() enforces, per operation. */
export const HAIPER_LIMITS: Record<string, unknown> = {
  'text-to-video': generateLimits,
  'image-to-video': {
    ...generateLimits,
    image: { formats: ['http(s) URL', 'data: URL (png, jpeg, webp; needs PUBLIC_URL)'] },
  },
  'video-upscale': { video: { formats: ['http(s) URL', 'task id'] } },
  'video-extend': {
    duration: { values: EXTEND_DURATIONS, default: 4 },
    guidance_scale: { default: 7.5 },
  },
};

/** Cloudsway exposes one Haiper video deployment per endpointPath; genway names it so. */
export const HAIPER_MODELS: ModelDescriptor[] = [
  {
    name: 'haiper-video-2',
    operations: HAIPER_OPERATIONS,
    limits: HAIPER_LIMITS,
    isDefault: true,
  },
];

/** How a wished frame and length map onto `/video/generate` (aspect ratio and duration only). */
export const HAIPER_VIDEO_CAPS: Partial<Record<Operation, VideoCaps>> = {
  'text-to-video': { aspectRatios: ASPECT_RATIOS, durations: GENERATE_DURATIONS },
  'image-to-video': { aspectRatios: ASPECT_RATIOS, durations: GENERATE_DURATIONS },
};
