import { z } from 'zod';

/**
 * Public schemas of the Replicate-compatible surface (`/replicate/v1`), following Replicate's
 * own OpenAPI (api.replicate.com/openapi.json) closely enough for its official clients.
 */

export const REPLICATE_PREDICTION_STATUSES = [
  'starting',
  'processing',
  'succeeded',
  'failed',
  'canceled',
] as const;

const EXAMPLE_ID = 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B';
const SD_VERSION = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';

export const ReplicateInputSchema = z.record(z.string(), z.unknown()).meta({
  description: "The model's inputs, passed to Replicate as they are (the model defines them)",
  example: { prompt: 'an astronaut riding a horse on mars', width: 768, height: 768 },
});

const webhookFields = {
  webhook: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .optional()
    .meta({
      description:
        "POSTed the prediction object (as `GET /predictions/{id}` answers it) on the events of `webhook_events_filter`, signed Standard-Webhooks style with the caller tenant's secret (`GET /webhooks/default/secret`), retried until delivered. Checked like every caller URL (no private addresses unless allow-listed); needs webhooks enabled for the tenant",
      example: 'https://example.com/replicate-webhook',
    }),
  webhook_events_filter: z
    .array(z.enum(['start', 'output', 'logs', 'completed']))
    .min(1)
    .optional()
    .meta({
      description:
        '`start`: when the prediction starts processing; `output`: when its outputs arrive; `logs`: on each progress update from its logs; `completed`: when it succeeded, failed or was canceled. Default: all',
      example: ['start', 'completed'],
    }),
  stream: z.boolean().optional().meta({ description: 'Deprecated by Replicate; ignored' }),
};

export const ReplicateCreatePredictionSchema = z
  .strictObject({
    version: z.string().min(1).max(300).meta({
      description:
        'A 64-hex version id, `owner/name:<version id>`, or `owner/name` of an official model',
      example: SD_VERSION,
    }),
    input: ReplicateInputSchema,
    ...webhookFields,
  })
  .meta({
    id: 'ReplicateCreatePredictionRequest',
    examples: [
      {
        version: `stability-ai/stable-diffusion:${SD_VERSION}`,
        input: {
          prompt: 'an astronaut riding a horse on mars, hd, dramatic lighting',
          width: 768,
          height: 768,
          scheduler: 'K_EULER',
          num_outputs: 1,
          guidance_scale: 7.5,
          num_inference_steps: 50,
        },
      },
    ],
  });

export const ReplicateCreateModelPredictionSchema = z
  .strictObject({ input: ReplicateInputSchema, ...webhookFields })
  .meta({
    id: 'ReplicateCreateModelPredictionRequest',
    examples: [{ input: { prompt: 'a lighthouse at dawn' } }],
  });

export const ReplicatePredictionSchema = z
  .object({
    id: z.string().meta({ description: "genway's task id", example: EXAMPLE_ID }),
    model: z.string().meta({ example: 'stability-ai/stable-diffusion' }),
    version: z.string().meta({ description: '`hidden` for official models', example: SD_VERSION }),
    input: z.record(z.string(), z.unknown()).meta({
      description: 'The input as sent (strings over 4096 characters, e.g. data: URIs, are elided)',
    }),
    logs: z.string(),
    output: z.unknown().meta({
      description:
        "The provider's output URLs (public, no auth; Replicate deletes them after 1 hour): one URL or a list, as the model returns them; null until `succeeded`",
      example: ['https://replicate.delivery/pbxt/abc/out-0.png'],
    }),
    error: z.string().nullable(),
    status: z.enum(REPLICATE_PREDICTION_STATUSES),
    source: z.literal('api'),
    data_removed: z.boolean(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    deadline: z.null(),
    metrics: z.object({ predict_time: z.number().optional(), total_time: z.number() }).optional(),
    urls: z.object({
      get: z
        .string()
        .meta({ example: `https://genway.example/replicate/v1/predictions/${EXAMPLE_ID}` }),
      cancel: z.string(),
      web: z.string().meta({ description: "genway's task (GET /v1/tasks/{id})" }),
    }),
  })
  .meta({
    id: 'ReplicatePrediction',
    description:
      'A Replicate prediction object backed by a genway task of the replicate provider. `urls` point at genway, never at Replicate.',
  });
export type ReplicatePredictionBody = z.infer<typeof ReplicatePredictionSchema>;

export const ReplicatePredictionListSchema = z
  .object({
    previous: z.string().nullable().meta({ description: 'Always null (pages only go forward)' }),
    next: z
      .string()
      .nullable()
      .meta({ description: 'Absolute URL of the next page; null on the last' }),
    results: z.array(ReplicatePredictionSchema),
  })
  .meta({ id: 'ReplicatePredictionList' });

export const ReplicateProblemSchema = z
  .object({
    title: z.string().meta({ example: 'Invalid version or not permitted' }),
    detail: z.string(),
    status: z.number().int(),
    invalid_fields: z
      .array(z.object({ type: z.string(), field: z.string(), description: z.string() }))
      .optional(),
  })
  .meta({
    id: 'ReplicateProblem',
    description: "Replicate's error shape (problem details: title, detail, status)",
  });
export type ReplicateProblemBody = z.infer<typeof ReplicateProblemSchema>;

const EXAMPLE_FILE_ID = 'file_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B';

export const ReplicateFileSchema = z
  .object({
    id: z.string().meta({ example: EXAMPLE_FILE_ID }),
    name: z.string().meta({ description: 'The filename given on upload', example: 'photo.png' }),
    content_type: z.string().meta({ example: 'image/png' }),
    size: z.number().int().meta({ description: 'Bytes', example: 69420 }),
    checksums: z.object({ sha256: z.string() }),
    metadata: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    expires_at: z.string().meta({ description: 'After this the file is gone (24 h after upload)' }),
    urls: z.object({
      get: z.string().meta({
        description:
          'This file on genway. Passed in a prediction `input` (what the official client does with a Buffer or Blob), genway hands the upstream a link it can fetch.',
        example: `https://genway.example/replicate/v1/files/${EXAMPLE_FILE_ID}`,
      }),
    }),
  })
  .meta({
    id: 'ReplicateFile',
    description: "A file uploaded to genway, in Replicate's file shape; visible to its tenant only",
  });
export type ReplicateFileBody = z.infer<typeof ReplicateFileSchema>;

export const ReplicateFileListSchema = z
  .object({
    previous: z.string().nullable().meta({ description: 'Always null (pages only go forward)' }),
    next: z.string().nullable().meta({ description: 'Absolute URL of the next page' }),
    results: z.array(ReplicateFileSchema),
  })
  .meta({ id: 'ReplicateFileList' });
