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

/** Longest deadline a create may set (a day): longer jobs simply set none. */
export const MAX_TIMEOUT_SECONDS = 86_400;

const common = {
  timeout_seconds: z.number().int().min(1).max(MAX_TIMEOUT_SECONDS).optional().meta({
    description:
      'Deadline in seconds from the create. Past it genway cancels the job upstream where the provider can (Replicate; it is also told as `Cancel-After`) and otherwise stops following it; the task ends `canceled` or `failed`, with `error.code` `deadline_exceeded`, and no further upstream call is made for it.',
    example: 300,
  }),
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

const imageRef = z
  .string()
  .max(30 * 1024 * 1024)
  .refine((v) => /^https?:\/\//i.test(v) || /^data:image\//i.test(v), {
    message: 'expected an http(s) URL or a data:image/...;base64 URL',
  })
  .meta({
    description:
      'An `https` URL (`http` where the provider documents it: Haiper) or a `data:image/...;base64,` URL (png, jpeg, webp; up to 10 MB decoded); in a multipart/form-data body, an image file part (format: binary) up to 10 MB. The provider fetches the URL itself: an address genway would not call (loopback, private, link-local, metadata; unless OUTBOUND_ALLOWLIST names it) is refused with a 400.',
  });

const videoRef = z
  .string()
  .max(2048)
  .refine((v) => /^https?:\/\//i.test(v) || /^task_[0-9A-Z]{26}$/.test(v), {
    message: 'expected an http(s) URL or the id of an earlier succeeded task',
  })
  .meta({
    description:
      "A video URL (the provider fetches it: the same address rules as `image`), or the id of an earlier succeeded task of yours (its first output: genway's stored copy, by a signed link under PUBLIC_URL, when it has one and PUBLIC_URL is set; else the provider's link, 410 `output_expired` once that has expired)",
  });

export const ImageToVideoRequestSchema = z
  .strictObject({
    model,
    image: imageRef,
    prompt: prompt.optional(),
    negative_prompt: negativePrompt.optional(),
    duration: z.number().int().min(1).max(60).optional().meta({ description: 'Seconds' }),
    aspect_ratio: z
      .string()
      .regex(/^\d{1,2}:\d{1,2}$/)
      .optional(),
    resolution: z
      .string()
      .regex(/^\d{3,4}p$/)
      .optional(),
    ...common,
  })
  .meta({
    id: 'ImageToVideoRequest',
    examples: [
      {
        model: 'pixverse/v5',
        image: 'https://example.com/cat.png',
        prompt: 'the cat turns its head',
        duration: 5,
        resolution: '540p',
      },
    ],
  });

export const VideoUpscaleRequestSchema = z
  .strictObject({ model, video: videoRef, ...common })
  .meta({
    id: 'VideoUpscaleRequest',
    examples: [{ model: 'haiper', video: 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B' }],
  });

export const VideoExtendRequestSchema = z
  .strictObject({
    model,
    video: videoRef,
    prompt: prompt.optional(),
    negative_prompt: negativePrompt.optional(),
    duration: z.number().int().min(1).max(60).optional().meta({ description: 'Seconds to add' }),
    guidance_scale: z.number().min(0).max(100).optional(),
    ...common,
  })
  .meta({
    id: 'VideoExtendRequest',
    examples: [
      {
        model: 'haiper',
        video: 'https://example.com/clip.mp4',
        prompt: 'the camera keeps rising',
        duration: 4,
      },
    ],
  });
