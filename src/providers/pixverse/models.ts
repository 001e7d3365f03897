import type { ModelDescriptor } from '../../domain/ports.js';
import type { Operation } from '../../contracts/common.js';
import type { OptionKind } from '../provider-options.js';
import type { VideoCaps } from '../video-format.js';

/**
 * PixVerse model catalogue and the parameter rules genway enforces before spending anything.
 * Source: shared/reference/providers.md section 3 ("Parameter rules") and seed 004.
 */
export const PIXVERSE_MODEL_NAMES = [
  'v3.5',
  'v4',
  'v4.5',
  'v5',
  'v5.5',
  'v5.6',
  'v6',
  'c1',
] as const;
export type PixverseModel = (typeof PIXVERSE_MODEL_NAMES)[number];

export const QUALITIES = ['360p', '540p', '720p', '1080p'] as const;
export type Quality = (typeof QUALITIES)[number];

export const ASPECT_RATIOS = ['16:9', '4:3', '1:1', '3:4', '9:16'] as const;
export const MOTION_MODES = ['normal', 'fast'] as const;
export const STYLES = ['anime', '3d_animation', 'clay', 'day', 'comic', 'cyberpunk'] as const;
export const THINKING_TYPES = ['enabled', 'disabled', 'auto'] as const;
export const CAMERA_MOVEMENTS = [
  'horizontal_left', 'horizontal_right', 'vertical_up', 'vertical_down', 'zoom_in', 'zoom_out',
  'crane_up', 'quickly_zoom_in', 'quickly_zoom_out', 'smooth_zoom_in', 'camera_rotation',
  'robo_arm', 'super_dolly_out', 'whip_pan', 'hitchcock', 'left_follow', 'right_follow',
  'pan_left', 'pan_right', 'fix_bg',
] as const; // prettier-ignore

export const MAX_PROMPT_CHARS = 2048;
export const MAX_LIP_SYNC_TTS_CHARS = 140;
export const MAX_SEED = 2_147_483_647;
/** Uploads must be smaller than 20 MB. */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024 - 1;
export const IMAGE_TYPES = ['image/png', 'image/webp', 'image/jpeg', 'image/jpg'] as const;

/**
 * Defaults genway fills in when the caller leaves a field out. PixVerse requires `duration`,
 * `quality` and (text-to-video) `aspect_ratio`; these are valid on every model.
 */
export const DEFAULTS = { duration: 5, resolution: '540p', aspect_ratio: '16:9' } as const;

/** Fields callers may pass through `provider_options`, with their types or allowed values. */
export const PIXVERSE_PROVIDER_OPTIONS: Record<string, OptionKind> = {
  camera_movement: CAMERA_MOVEMENTS,
  style: STYLES,
  motion_mode: MOTION_MODES,
  template_id: 'integer',
  sound_effect_switch: 'boolean',
  sound_effect_content: 'string',
  lip_sync_switch: 'boolean',
  // Seed 004 spells the lip-sync switch this way; both names are passed through as given.
  lip_sync_tts_switch: 'boolean',
  lip_sync_tts_content: 'string',
  lip_sync_tts_speaker_id: 'string',
  generate_audio_switch: 'boolean',
  generate_multi_clip_switch: 'boolean',
  thinking_type: THINKING_TYPES,
  water_mark: 'boolean',
};

export const SOUND_AND_LIP_SYNC_OPTIONS = [
  'sound_effect_switch',
  'sound_effect_content',
  'lip_sync_switch',
  'lip_sync_tts_switch',
  'lip_sync_tts_content',
  'lip_sync_tts_speaker_id',
] as const;

export interface PixverseModelRules {
  /** Allowed durations (s) per quality. */
  durations: Record<Quality, readonly number[]>;
  motionModes: readonly (typeof MOTION_MODES)[number][];
  /** `style` (v3.5 only). */
  style: boolean;
  /** `camera_movement` (v4, v4.5). */
  cameraMovement: boolean;
  /** `sound_effect_*` and `lip_sync_*` (v5 and earlier, or any model with a `template_id`). */
  soundAndLipSync: boolean;
  /** `generate_audio_switch` (v5.5 and later). */
  generateAudio: boolean;
  /** `generate_multi_clip_switch` (seed 004: v5.5, v6). */
  multiClip: boolean;
  /** `thinking_type` (seed 004: v5.5, v5.6, v6). */
  thinking: boolean;
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
const everyQuality = (d: readonly number[]): Record<Quality, readonly number[]> => ({
  '360p': d,
  '540p': d,
  '720p': d,
  '1080p': d,
});

const legacy = {
  motionModes: MOTION_MODES,
  style: false,
  cameraMovement: false,
  soundAndLipSync: true,
  generateAudio: false,
  multiClip: false,
  thinking: false,
} as const;
const modern = {
  motionModes: ['normal'],
  style: false,
  cameraMovement: false,
  soundAndLipSync: false,
  generateAudio: true,
  multiClip: false,
  thinking: false,
} as const;

export const PIXVERSE_RULES: Record<PixverseModel, PixverseModelRules> = {
  'v3.5': { ...legacy, durations: { ...everyQuality([5, 8]), '1080p': [5] }, style: true },
  v4: { ...legacy, durations: everyQuality([5, 8]), cameraMovement: true },
  'v4.5': { ...legacy, durations: everyQuality([5, 8]), cameraMovement: true },
  v5: { ...legacy, durations: everyQuality([5, 8]), motionModes: ['normal'] },
  'v5.5': {
    ...modern,
    durations: { ...everyQuality([5, 8, 10]), '1080p': [5, 8] },
    multiClip: true,
    thinking: true,
  },
  'v5.6': {
    ...modern,
    durations: { ...everyQuality([5, 8, 10]), '1080p': [5, 8] },
    thinking: true,
  },
  v6: { ...modern, durations: everyQuality(range(1, 15)), multiClip: true, thinking: true },
  c1: { ...modern, durations: everyQuality(range(1, 15)) },
};

export function isPixverseModel(model: string): model is PixverseModel {
  return (PIXVERSE_MODEL_NAMES as readonly string[]).includes(model);
}

/** What GET /v1/models publishes for one model. */
function published(model: PixverseModel): Record<string, unknown> {
  const r = PIXVERSE_RULES[model];
  const options = Object.keys(PIXVERSE_PROVIDER_OPTIONS).filter((key) => {
    if (key === 'style') return r.style;
    if (key === 'camera_movement') return r.cameraMovement;
    if (key === 'generate_audio_switch') return r.generateAudio;
    if (key === 'generate_multi_clip_switch') return r.multiClip;
    if (key === 'thinking_type') return r.thinking;
    return true;
  });
  return {
    durations: r.durations,
    resolutions: QUALITIES,
    aspect_ratios: ASPECT_RATIOS,
    motion_modes: r.motionModes,
    ...(r.motionModes.includes('fast')
      ? { fast_motion: { durations: [5], not_at: ['1080p'] } }
      : {}),
    prompt: { max_chars: MAX_PROMPT_CHARS },
    negative_prompt: { max_chars: MAX_PROMPT_CHARS },
    seed: { min: 0, max: MAX_SEED },
    image: { types: ['image/png', 'image/webp', 'image/jpeg'], max_bytes: MAX_IMAGE_BYTES },
    defaults: DEFAULTS,
    provider_options: options,
    ...(r.soundAndLipSync ? {} : { sound_and_lip_sync: 'only with provider_options.template_id' }),
  };
}

export const PIXVERSE_MODELS: ModelDescriptor[] = PIXVERSE_MODEL_NAMES.map((name) => ({
  name,
  operations: ['text-to-video', 'image-to-video'],
  limits: published(name),
  ...(name === 'v5' ? { isDefault: true } : {}),
}));

/**
 * How a wished frame and length map onto a generate call: quality and duration (as the model
 * allows at that quality), and the aspect ratio for text-to-video (an image sets its own).
 */
export function pixverseVideoCaps(operation: Operation, model: string): VideoCaps {
  if (!isPixverseModel(model)) return {};
  return {
    ...(operation === 'text-to-video' ? { aspectRatios: ASPECT_RATIOS } : {}),
    resolutions: QUALITIES,
    defaultResolution: DEFAULTS.resolution,
    durations: PIXVERSE_RULES[model].durations,
  };
}
