import { z } from 'zod';
import { ProviderOptionsSchema, SeedSchema } from './common.js';

/**
 * Public schemas of the OpenAI-compatible surface (`/openai/v1`): `images/generations` and the
 * video jobs (`videos`), shaped after OpenAI's own API so that the official `openai` clients
 * work against genway. Fields genway adds (negative_prompt, seed, ...) are optional; fields
 * OpenAI defines that genway cannot honour are accepted and ignored unless noted.
 */

const EXAMPLE_ID = 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B';

export const OpenAIErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string().meta({
        description:
          '`invalid_request_error`, `authentication_error`, `not_found_error`, `conflict_error`, `rate_limit_error` or `api_error`',
        example: 'invalid_request_error',
      }),
      param: z
        .string()
        .nullable()
        .meta({ description: 'The request field at fault, when one is', example: 'size' }),
      code: z
        .string()
        .nullable()
        .meta({ description: "genway's stable error code", example: 'invalid_request' }),
    }),
  })
  .meta({
    id: 'OpenAIError',
    description:
      "OpenAI's error envelope. Creates that may have started a paid job and failed carry `x-should-retry: false`.",
  });
export type OpenAIErrorBody = z.infer<typeof OpenAIErrorSchema>;

const model = z.string().min(1).max(256).meta({
  description:
    'A genway model: `provider`, `provider/upstream-model` or a configured alias (an operator can alias `dall-e-3` or `sora-2`). Default: the first model of the operation in GET /v1/models.',
});
const prompt = z.string().min(1).max(10_000);
const negativePrompt = z.string().max(10_000);
const size = z
  .string()
  .regex(/^(?:\d{2,4}x\d{2,4}|auto)$/, 'expected WIDTHxHEIGHT, e.g. 1024x1024, or auto');

export const ImageGenerationRequestSchema = z
  .looseObject({
    prompt,
    model: model.optional(),
    n: z.number().int().min(1).max(4).optional().meta({ description: 'Images to generate (1-4)' }),
    size: size.optional().meta({
      description: '`WIDTHxHEIGHT` in pixels (within the model limits) or `auto` (its default)',
      example: '1024x1024',
    }),
    response_format: z.enum(['url', 'b64_json']).optional().meta({
      description:
        "`url` (default): the provider's link to the file; `b64_json`: the file itself, base64",
    }),
    negative_prompt: negativePrompt.optional(),
    seed: SeedSchema.optional(),
    steps: z.number().int().min(1).max(500).optional(),
    guidance_scale: z.number().min(0).max(100).optional(),
    scheduler: z.string().max(64).optional(),
    provider_options: ProviderOptionsSchema.optional(),
    stream: z.literal(false).optional().meta({ description: 'Streaming is not supported' }),
  })
  .meta({
    id: 'OpenAIImageGenerationRequest',
    description:
      'OpenAI `images.generate`. Other OpenAI fields (`quality`, `style`, `user`, ...) are accepted and ignored.',
    examples: [
      {
        model: 'modelslab/sdxl',
        prompt: 'a lighthouse on a cliff at sunset, oil painting',
        n: 1,
        size: '1024x1024',
        response_format: 'url',
        negative_prompt: 'blurry',
      },
    ],
  });
export type ImageGenerationRequest = z.infer<typeof ImageGenerationRequestSchema>;

export const ImagesResponseSchema = z
  .object({
    created: z.number().int().meta({ description: 'Unix seconds' }),
    data: z.array(
      z.object({
        url: z.string().optional().meta({ description: "The provider's link to the image" }),
        b64_json: z.string().optional().meta({ description: 'The image, base64' }),
      }),
    ),
  })
  .meta({ id: 'OpenAIImagesResponse' });
export type ImagesResponse = z.infer<typeof ImagesResponseSchema>;

const imageReferenceObject = z.strictObject({
  image_url: z
    .string()
    .max(30 * 1024 * 1024)
    .optional()
    .meta({ description: 'An https URL or a `data:image/...;base64,` URL' }),
  file_id: z
    .string()
    .max(256)
    .optional()
    .meta({ description: 'OpenAI Files are not supported by genway: refused' }),
});

export const VideoCreateRequestSchema = z
  .looseObject({
    prompt,
    model: model.optional(),
    seconds: z
      .union([z.string().regex(/^\d{1,2}$/, 'expected whole seconds, e.g. "4"'), z.number()])
      .optional()
      .meta({
        description:
          "Clip length in seconds (a string, as OpenAI sends it): the model's nearest length is used (see `seconds` on the video)",
        example: '8',
      }),
    size: size.optional().meta({
      description:
        '`WIDTHxHEIGHT`: the closest frame the model makes is used (1280x720 → 16:9 at 720p where the model takes a ratio and resolution; see `size` on the video)',
      example: '1280x720',
    }),
    input_reference: z
      .union([
        z
          .custom<Buffer>((v) => Buffer.isBuffer(v), 'expected an image file')
          .meta({ type: 'string', format: 'binary', description: 'An image file (multipart)' }),
        imageReferenceObject,
        z.string().max(30 * 1024 * 1024),
      ])
      .optional()
      .meta({
        description:
          'First frame: an image file (multipart), `{image_url}` (multipart: `input_reference[image_url]`) or an image URL. Makes the job image-to-video.',
      }),
    negative_prompt: negativePrompt.optional(),
    seed: SeedSchema.optional(),
    provider_options: ProviderOptionsSchema.optional(),
  })
  .meta({
    id: 'OpenAIVideoCreateRequest',
    description:
      'OpenAI `videos.create`, as JSON or as multipart/form-data (fields as strings, nested keys bracketed).',
    examples: [
      {
        model: 'pixverse/v5',
        prompt: 'a paper boat drifting down a rainy street',
        seconds: '5',
        size: '1280x720',
      },
    ],
  });
export type VideoCreateRequest = z.infer<typeof VideoCreateRequestSchema>;

export const VIDEO_STATUSES = ['queued', 'in_progress', 'completed', 'failed'] as const;

export const VideoSchema = z
  .object({
    id: z.string().meta({ description: 'The genway task id', example: EXAMPLE_ID }),
    object: z.literal('video'),
    model: z.string().meta({ example: 'pixverse/v5' }),
    status: z.enum(VIDEO_STATUSES),
    progress: z.number().int().min(0).max(100),
    seconds: z.string().nullable().meta({
      description:
        "The length asked of the provider: the model's nearest to the `seconds` requested (`12` on a model of 5 or 8 s is `8`), or its fixed length; null when it was not asked (the model default applied, or the model has no say in it)",
      example: '8',
    }),
    size: z.string().nullable().meta({
      description:
        'The frame asked of the provider, `WIDTHxHEIGHT`: the nearest aspect ratio and resolution the model takes (`1792x1024` at 16:9 and 1080p is `1920x1080`), or the size shrunk into its limits; null when no size was asked',
      example: '1280x720',
    }),
    prompt: z.string().nullable().meta({ description: 'The prompt of the job' }),
    remixed_from_video_id: z.string().nullable(),
    created_at: z.number().int().meta({ description: 'Unix seconds' }),
    completed_at: z.number().int().nullable(),
    expires_at: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'When the provider stops serving the file (unix seconds), if known' }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .meta({ id: 'OpenAIVideo', description: 'A video job (a genway task)' });
export type Video = z.infer<typeof VideoSchema>;

export const VideoListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(VideoSchema),
    first_id: z.string().nullable(),
    last_id: z.string().nullable(),
    has_more: z.boolean(),
  })
  .meta({ id: 'OpenAIVideoList' });

export const VideoDeletedSchema = z
  .object({
    id: z.string().meta({ example: EXAMPLE_ID }),
    object: z.literal('video.deleted'),
    deleted: z.literal(true),
  })
  .meta({ id: 'OpenAIVideoDeleted' });

export const VideoIdParamsSchema = z.object({
  video_id: z.string().max(64).meta({ example: EXAMPLE_ID }),
});

export const VideoListQuerySchema = z.object({
  after: z
    .string()
    .regex(/^task_[0-9A-Z]{26}$/, 'expected the id of a video from a previous page')
    .optional()
    .meta({ description: 'The last id of the previous page' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(['asc', 'desc']).default('desc').meta({ description: 'By creation time' }),
});

export const VideoContentQuerySchema = z.object({
  variant: z.enum(['video', 'thumbnail', 'spritesheet']).default('video').meta({
    description:
      '`video`; `thumbnail`: the poster image where genway has one (else 404 `thumbnail_not_available`); `spritesheet` is not available',
  }),
});
