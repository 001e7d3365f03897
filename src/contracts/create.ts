import { z } from 'zod';
import {
  MetadataSchema,
  ProviderOptionsSchema,
  SeedSchema,
  WebhookRequestSchema,
} from './common.js';

const model = z.string().min(1).max(256).meta({
  description: '`provider`, `provider/upstream-model`, or a configured alias (see GET /v1/models)',
});
const prompt = z.string().min(1).max(10_000);
const negativePrompt = z.string().max(10_000);

const common = {
  seed: SeedSchema.optional(),
  metadata: MetadataSchema.optional(),
  webhook: WebhookRequestSchema.optional(),
  provider_options: ProviderOptionsSchema.optional(),
};

export const TextToImageRequestSchema = z
  .strictObject({
    model,
    prompt,
    negative_prompt: negativePrompt.optional(),
    width: z.number().int().min(64).max(4096).optional(),
    height: z.number().int().min(64).max(4096).optional(),
    num_outputs: z.number().int().min(1).max(4).optional(),
    steps: z.number().int().min(1).max(500).optional(),
    guidance_scale: z.number().min(0).max(100).optional(),
    scheduler: z.string().max(64).optional(),
    ...common,
  })
  .meta({
    id: 'TextToImageRequest',
    examples: [
      {
        model: 'modelslab/sdxl',
        prompt: 'a lighthouse on a cliff at sunset, oil painting',
        negative_prompt: 'blurry',
        width: 512,
        height: 512,
        num_outputs: 1,
        steps: 30,
        guidance_scale: 7.5,
      },
    ],
  });

export const TextToVideoRequestSchema = z
  .strictObject({
    model,
    prompt,
    negative_prompt: negativePrompt.optional(),
    duration: z.number().int().min(1).max(60).optional().meta({ description: 'Seconds' }),
    aspect_ratio: z
      .string()
      .regex(/^\d{1,2}:\d{1,2}$/)
      .optional()
      .meta({ example: '16:9' }),
    resolution: z
      .string()
      .regex(/^\d{3,4}p$/)
      .optional()
      .meta({ example: '720p' }),
    width: z.number().int().min(64).max(4096).optional(),
    height: z.number().int().min(64).max(4096).optional(),
    steps: z.number().int().min(1).max(500).optional(),
    guidance_scale: z.number().min(0).max(100).optional(),
    scheduler: z.string().max(64).optional(),
    ...common,
  })
  .meta({
    id: 'TextToVideoRequest',
    examples: [
      { model: 'modelslab/cogvideox', prompt: 'a paper boat drifting down a rainy street' },
    ],
  });

export type TextToImageRequest = z.infer<typeof TextToImageRequestSchema>;
export type TextToVideoRequest = z.infer<typeof TextToVideoRequestSchema>;
export type CreateRequest = TextToImageRequest | TextToVideoRequest;
