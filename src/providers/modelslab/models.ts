import type { ModelDescriptor } from '../../domain/ports.js';
import type { VideoCaps } from '../video-format.js';

/** Schedulers the enterprise API lists (seeds 000/001) plus LCMScheduler from the newer docs. */
export const MODELSLAB_SCHEDULERS = [
  'DDPMScheduler',
  'DDIMScheduler',
  'PNDMScheduler',
  'LMSDiscreteScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'DPMSolverMultistepScheduler',
  'HeunDiscreteScheduler',
  'KDPM2DiscreteScheduler',
  'DPMSolverSinglestepScheduler',
  'KDPM2AncestralDiscreteScheduler',
  'UniPCMultistepScheduler',
  'DDIMInverseScheduler',
  'DEISMultistepScheduler',
  'IPNDMScheduler',
  'KarrasVeScheduler',
  'ScoreSdeVeScheduler',
  'LCMScheduler',
] as const;

export interface ModelslabLimits {
  maxWidth: number;
  maxHeight: number;
  maxOutputs: number;
  steps: [number, number];
  guidanceScale: [number, number];
}

export const IMAGE_LIMITS: ModelslabLimits = {
  maxWidth: 1024,
  maxHeight: 1024,
  maxOutputs: 4,
  steps: [1, 50],
  guidanceScale: [1, 20],
};
/** The current enterprise video endpoint caps frames at 512x512. */
export const VIDEO_LIMITS: ModelslabLimits = {
  ...IMAGE_LIMITS,
  maxWidth: 512,
  maxHeight: 512,
  maxOutputs: 1,
};

/**
 * Enterprise video takes a frame as width/height (at most 512x512; multiples of 8, as diffusion
 * models want) and no length: the model decides it.
 */
export const VIDEO_CAPS: VideoCaps = {
  frame: { maxWidth: VIDEO_LIMITS.maxWidth, maxHeight: VIDEO_LIMITS.maxHeight, multipleOf: 8 },
};

const published = (l: ModelslabLimits) => ({
  width: { max: l.maxWidth },
  height: { max: l.maxHeight },
  num_outputs: { min: 1, max: l.maxOutputs },
  steps: { min: l.steps[0], max: l.steps[1] },
  guidance_scale: { min: l.guidanceScale[0], max: l.guidanceScale[1] },
  scheduler: MODELSLAB_SCHEDULERS,
});

/** ModelsLab `model_id`s genway offers; enterprise servers may host more (use an alias). */
export const MODELSLAB_MODELS: ModelDescriptor[] = [
  { name: 'sdxl', operations: ['text-to-image'], limits: published(IMAGE_LIMITS), isDefault: true },
  { name: 'realistic-vision-v51', operations: ['text-to-image'], limits: published(IMAGE_LIMITS) },
  { name: 'midjourney', operations: ['text-to-image'], limits: published(IMAGE_LIMITS) },
  {
    name: 'cogvideox',
    operations: ['text-to-video'],
    limits: published(VIDEO_LIMITS),
    isDefault: true,
  },
  { name: 'zeroscope', operations: ['text-to-video'], limits: published(VIDEO_LIMITS) },
];

/** Extra ModelsLab fields callers may pass in `provider_options`. */
export const MODELSLAB_PROVIDER_OPTIONS: Record<string, 'string' | 'number' | 'yesno'> = {
  lora_model: 'string',
  lora_strength: 'string',
  embeddings_model: 'string',
  vae: 'string',
  clip_skip: 'number',
  safety_checker: 'yesno',
  safety_checker_type: 'string',
  enhance_prompt: 'yesno',
  multi_lingual: 'yesno',
  panorama: 'yesno',
  self_attention: 'yesno',
  upscale: 'yesno',
  tomesd: 'yesno',
  use_karras_sigmas: 'yesno',
  temp: 'yesno',
  strength: 'number',
  num_frames: 'number',
  output_type: 'string',
};
